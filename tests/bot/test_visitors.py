"""Guests and people from other organisations (Slack Connect), through Bolt itself against the sandbox's
Web API: by default they neither start runs nor decide on them, each told why in one private line;
RESEARCH_ALLOW_GUESTS and RESEARCH_ALLOW_EXTERNAL_USERS let them in; users.info is asked once for a while,
and not at all where the request itself says who it is; when Slack cannot say, nothing starts."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from slack_bolt.async_app import AsyncApp
from structlog.testing import capture_logs

from bot.app import build_app
from bot.caps import BARRED
from bot.decisions import BARRED as BARRED_DECIDING
from bot.decisions import DELIVER_WAIT
from bot.people import DECIDING_LOOKUP_WAIT, Bar
from bot.start_in_time import STARTED
from core.settings import Settings
from sandbox import Channel, SlackApiServer, payloads
from slack_ui.ids import encode_button_value
from tests.bot.conftest import (
    APPROVER,
    ASKER,
    SECRET,
    FakeTemporal,
    bolt_request,
    click,
    command,
    ephemerals,
    form,
    interaction,
    reply,
    run_id,
)
from tests.bot.test_events import event_request
from tests.support.waiting import eventually

GUEST, SINGLE_CHANNEL_GUEST, OUTSIDER = "UGUEST", "USINGLEGUEST", "UOUTSIDER"
OTHER_ORG = "TOTHERORG"


@pytest.fixture(scope="module", autouse=True)
def visitors(slack: SlackApiServer) -> None:
    ws = slack.workspace
    ws.add_user("guest", id=GUEST).is_restricted = True
    ws.add_user("single", id=SINGLE_CHANNEL_GUEST).is_ultra_restricted = True
    ws.add_user("outsider", id=OUTSIDER).team_id = OTHER_ORG


@pytest.fixture
def room(slack: SlackApiServer) -> Channel:
    members = [ASKER, APPROVER, GUEST, SINGLE_CHANNEL_GUEST, OUTSIDER]
    return slack.workspace.add_channel(f"connect-{uuid.uuid4().hex[:6]}", members=members)


def bot(slack: SlackApiServer, temporal: FakeTemporal, **settings: Any) -> AsyncApp:
    return build_app(
        Settings(
            _env_file=None,
            slack_bot_token=slack.workspace.bot_token,
            slack_api_url=slack.base_url,
            slack_signing_secret=SECRET,
            research_max_runs_in_flight=0,
            research_max_runs_per_hour=0,
            **settings,
        ),
        temporal,  # type: ignore[arg-type]
    )


async def ask(app: AsyncApp, slack: SlackApiServer, room: Channel, user: str) -> str:
    response = await app.async_dispatch(bolt_request(form(command(slack, room, "What is a task queue?", user))))
    assert response.status == 200
    answer = reply(response)
    assert answer["response_type"] == "ephemeral"
    return str(answer["text"])


def asked_about(slack: SlackApiServer, user: str) -> int:
    return len([call for call in slack.calls_to("users.info") if call.params.get("user") == user])


@pytest.fixture
def member(slack: SlackApiServer) -> str:
    """A member of the workspace nobody asked Slack about yet."""
    user = slack.workspace.add_user(f"member-{uuid.uuid4().hex[:6]}")
    return user.id


def test_a_deciders_lookup_and_delivery_fit_inside_slacks_three_seconds() -> None:
    assert DECIDING_LOOKUP_WAIT + DELIVER_WAIT.total_seconds() <= timedelta(seconds=3).total_seconds()


@pytest.mark.parametrize("guest", [GUEST, SINGLE_CHANNEL_GUEST])
async def test_a_guests_research_is_refused_in_one_private_line_and_starts_nothing(
    slack: SlackApiServer, room: Channel, temporal: FakeTemporal, guest: str
) -> None:
    said = await ask(bot(slack, temporal), slack, room, guest)
    assert said == "Guests can't start research here; ask a member of the workspace." == BARRED[Bar.GUEST]
    assert temporal.starts == []


async def test_guests_and_external_users_ask_when_the_settings_say_so(
    slack: SlackApiServer, room: Channel, temporal: FakeTemporal
) -> None:
    guests_only = bot(slack, temporal, research_allow_guests=True)
    assert await ask(guests_only, slack, room, GUEST) == STARTED
    assert await ask(guests_only, slack, room, OUTSIDER) == BARRED[Bar.EXTERNAL]
    everyone = bot(slack, temporal, research_allow_guests=True, research_allow_external_users=True)
    asked_before = asked_about(slack, OUTSIDER)
    assert await ask(everyone, slack, room, OUTSIDER) == STARTED
    assert asked_about(slack, OUTSIDER) == asked_before, "with everyone let in, Slack is not asked"
    assert [start.split("-")[2] for start in temporal.starts] == [GUEST, OUTSIDER]


async def test_an_external_users_mention_is_refused_privately_without_asking_slack(
    slack: SlackApiServer, room: Channel, temporal: FakeTemporal
) -> None:
    ws = slack.workspace
    said = ws.post(room.id, user=OUTSIDER, text="<@U0BOT> What is a task queue?")
    event = payloads.app_mention(ws, channel=room, message=said)
    assert event["user_team"] == OTHER_ORG  # what Slack sends in a Slack Connect channel
    asked_before = asked_about(slack, OUTSIDER)
    assert (await bot(slack, temporal).async_dispatch(event_request(payloads.event_callback(ws, event)))).status == 200
    [line] = await eventually(lambda: ephemerals(slack, room, OUTSIDER), "the refusal")
    assert line == BARRED[Bar.EXTERNAL] and line.startswith("People from other organisations can't start research")
    assert temporal.starts == [] and asked_about(slack, OUTSIDER) == asked_before, "the event said who it was"


@pytest.mark.parametrize("action_id", ["approve", "reject"])
async def test_a_guest_who_asked_is_refused_a_decision_unless_an_approver(
    slack: SlackApiServer, room: Channel, temporal: FakeTemporal, action_id: str
) -> None:
    """A run a guest started while guests were allowed: with the setting off, their click decides nothing."""
    value = encode_button_value(run_id(slack, room, asker=GUEST), 1)
    opened = len(slack.calls_to("views.open"))
    payload = click(slack, room, action_id, GUEST, value)
    assert (await bot(slack, temporal).async_dispatch(bolt_request(interaction(payload)))).status == 200
    [line] = await eventually(lambda: ephemerals(slack, room, GUEST), "the refusal")
    assert line == BARRED_DECIDING[Bar.GUEST] and line.startswith("Guests can't decide on research here")
    assert temporal.updates == temporal.signals == [] and len(slack.calls_to("views.open")) == opened

    approver = bot(slack, temporal, research_approvers=[GUEST])  # named an approver: trusted to decide
    assert (
        await approver.async_dispatch(bolt_request(interaction(click(slack, room, action_id, GUEST, value))))
    ).status == 200
    await eventually(lambda: temporal.updates or slack.calls_to("views.open")[opened:], "the decision or its modal")


async def test_an_external_users_reject_is_refused_from_the_payload_alone(
    slack: SlackApiServer, room: Channel, temporal: FakeTemporal
) -> None:
    value = encode_button_value(run_id(slack, room, asker=OUTSIDER), 1)
    payload = click(slack, room, "reject", OUTSIDER, value)
    assert payload["user"]["team_id"] == OTHER_ORG
    asked_before = asked_about(slack, OUTSIDER)
    assert (await bot(slack, temporal).async_dispatch(bolt_request(interaction(payload)))).status == 200
    assert await eventually(lambda: ephemerals(slack, room, OUTSIDER), "the refusal") == [BARRED_DECIDING[Bar.EXTERNAL]]
    assert temporal.updates == temporal.signals == [] and asked_about(slack, OUTSIDER) == asked_before


async def test_users_info_is_asked_once_for_two_questions(
    slack: SlackApiServer, room: Channel, temporal: FakeTemporal, member: str
) -> None:
    app = bot(slack, temporal)
    assert await ask(app, slack, room, member) == STARTED
    assert await ask(app, slack, room, member) == STARTED
    assert asked_about(slack, member) == 1
    assert len(temporal.starts) == 2


async def test_when_slack_cannot_say_who_asks_nothing_starts_and_the_next_try_does(
    slack: SlackApiServer, room: Channel, temporal: FakeTemporal, member: str
) -> None:
    app = bot(slack, temporal)
    slack.rate_limit("users.info")
    with capture_logs() as logs:
        said = await ask(app, slack, room, member)
    assert said == BARRED[Bar.UNKNOWN] and said.endswith("Try again in a minute.")
    assert temporal.starts == []
    assert [e for e in logs if e["event"] == "people.not_told" and e["user"] == member]
    assert await ask(app, slack, room, member) == STARTED, "an answer Slack did not give is not kept"
