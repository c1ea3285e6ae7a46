"""Events API requests through Bolt itself (``app.async_dispatch``): a mention and a DM are questions,
started before the ack; what the asker hears is said in the thread; chatter is acked and left alone;
the DM pane gets its suggested prompts. Slack is the sandbox's Web API, Temporal the recording fake."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import pytest
from slack_bolt.async_app import AsyncApp

from bot import from_message, start_in_time
from bot.front_door import check_shape
from sandbox import Channel, SlackApiServer, payloads
from sandbox.signing import signed_headers
from slack_ui.ids import workflow_id_for_message
from slack_ui.replies import SUGGESTED_PROMPTS
from tests.bot.conftest import ASKER, SECRET, FakeTemporal, bolt_request
from tests.support.waiting import eventually
from workflows.models import SlackFileRef

JSON = "application/json"


def event_request(payload: dict[str, Any], retry_num: int = 0) -> Any:
    body = payloads.event_body(payload)
    headers = signed_headers(SECRET, body, content_type=JSON)
    if retry_num:
        headers |= {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"}
    check_shape(JSON, body.encode())  # what the front door lets through
    return bolt_request(body, headers)


def mention(slack: SlackApiServer, channel: Channel, text: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A person's message mentioning the bot, and its event_callback."""
    ws = slack.workspace
    said = ws.post(channel.id, user=ASKER, text=text)
    return said, payloads.event_callback(ws, payloads.app_mention(ws, channel=channel, message=said))


def replies(slack: SlackApiServer, channel: Channel, thread_ts: str) -> list[str]:
    with slack.workspace.lock:
        found = slack.workspace.messages.get(channel.id, [])
        return [m["text"] for m in found if m.get("thread_ts") == thread_ts and m["ts"] != thread_ts]


@pytest.fixture
def dm(slack: SlackApiServer) -> Channel:
    return slack.workspace.add_channel(f"dm-{ASKER}", im=True, members=[ASKER], bot_member=True)


async def test_url_verification_is_answered_with_its_challenge(app: AsyncApp) -> None:
    response = await app.async_dispatch(event_request(payloads.url_verification("3eZbrw1aBm2rZgRNFdxV")))
    assert response.status == 200 and json.loads(response.body) == {"challenge": "3eZbrw1aBm2rZgRNFdxV"}


async def test_a_mention_is_started_before_the_ack_and_its_run_hangs_under_it(
    app: AsyncApp, slack: SlackApiServer, channel: Channel, temporal: FakeTemporal
) -> None:
    said, event = mention(slack, channel, "<@U0BOT> Why &lt;b&gt; &amp; not &lt;i&gt;?")
    response = await app.async_dispatch(event_request(event))
    assert response.status == 200
    assert temporal.starts == [workflow_id_for_message(slack.workspace.team_id, ASKER, channel.id, said["ts"])]
    await asyncio.sleep(0.2)  # the listener after the ack has nothing to say: the run's first post is the ack
    assert replies(slack, channel, said["ts"]) == []


async def test_a_retry_after_a_failed_start_starts_the_run_and_a_retry_after_success_starts_nothing_new(
    app: AsyncApp, slack: SlackApiServer, channel: Channel, temporal: FakeTemporal
) -> None:
    async def refuse() -> None:
        raise RuntimeError("Failed client connect: connection refused")

    said, event = mention(slack, channel, "<@U0BOT> What is a task queue?")
    temporal.start = refuse
    assert (await app.async_dispatch(event_request(event))).status == 200
    told = await eventually(lambda: replies(slack, channel, said["ts"]), "the asker told")
    assert told == [start_in_time.UNAVAILABLE] and temporal.starts == []

    temporal.start = None
    for attempt in (1, 2):
        assert (await app.async_dispatch(event_request(event, retry_num=attempt))).status == 200
    await asyncio.sleep(0.2)
    workflow_id = workflow_id_for_message(slack.workspace.team_id, ASKER, channel.id, said["ts"])
    assert temporal.starts == [workflow_id, workflow_id], "the same id twice: Temporal keeps one run"
    assert replies(slack, channel, said["ts"]) == [start_in_time.UNAVAILABLE], "nothing more said"


async def test_a_slow_start_is_said_to_be_queued_in_the_thread_and_its_start_needs_no_words(
    app: AsyncApp, slack: SlackApiServer, channel: Channel, temporal: FakeTemporal, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(start_in_time, "START_DEADLINE", timedelta(seconds=0.05))
    release = asyncio.Event()
    temporal.start = release.wait
    said, event = mention(slack, channel, "<@U0BOT> What is a task queue?")
    assert (await app.async_dispatch(event_request(event))).status == 200
    assert await eventually(lambda: replies(slack, channel, said["ts"]), "queued said") == [from_message.QUEUED_HERE]
    release.set()
    await eventually(lambda: temporal.starts, "the start")
    await asyncio.sleep(0.2)
    assert replies(slack, channel, said["ts"]) == [from_message.QUEUED_HERE]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<@U0BOT>", from_message.HOW_TO_ASK),
        ("<@U0BOT|researchbot>   help", from_message.HOW_TO_ASK),
        ("<@U0BOT> " + "x" * 2001, "Sorry, I can't research that: the question is 2001 characters long"),
    ],
)
async def test_an_empty_or_overlong_mention_is_answered_in_its_thread_and_starts_nothing(
    app: AsyncApp, slack: SlackApiServer, channel: Channel, temporal: FakeTemporal, text: str, expected: str
) -> None:
    said, event = mention(slack, channel, text)
    assert (await app.async_dispatch(event_request(event))).status == 200
    [told] = await eventually(lambda: replies(slack, channel, said["ts"]), "the asker told")
    assert told.startswith(expected) and temporal.starts == []


async def test_a_dm_question_is_started_with_the_panes_status_and_title(
    app: AsyncApp, slack: SlackApiServer, dm: Channel, temporal: FakeTemporal
) -> None:
    ws = slack.workspace
    said = ws.post(dm.id, user=ASKER, text="How do heartbeats work?")
    event = payloads.event_callback(ws, payloads.im_message(ws, channel=dm, message=said))
    assert (await app.async_dispatch(event_request(event))).status == 200
    assert temporal.starts == [workflow_id_for_message(ws.team_id, ASKER, dm.id, said["ts"])]
    [status] = slack.calls_to("assistant.threads.setStatus")[-1:]
    wanted = {"channel_id": dm.id, "thread_ts": said["ts"], "status": from_message.RESEARCHING}
    assert {key: status.params.get(key) for key in wanted} == wanted
    [title] = slack.calls_to("assistant.threads.setTitle")[-1:]
    assert title.params["title"] == "How do heartbeats work?"


async def test_files_attached_to_a_dm_question_travel_as_ids_and_names_only(
    app: AsyncApp, slack: SlackApiServer, dm: Channel, temporal: FakeTemporal
) -> None:
    ws = slack.workspace
    attached = [
        {"id": "F0HANDBOOK", "name": "handbook.pdf", "url_private": "https://files.slack.com/files-pri/T-F/x.pdf"},
        {"id": "not a file id", "name": "junk"},
        "junk",
    ]
    said = ws.post(dm.id, user=ASKER, text="What does the handbook say about travel?", files=attached)  # type: ignore[list-item]
    event = payloads.event_callback(ws, payloads.im_message(ws, channel=dm, message=said))
    assert event["event"]["subtype"] == "file_share", "as Slack sends a message with files"
    assert (await app.async_dispatch(event_request(event))).status == 200
    [workflow_id] = temporal.starts
    request = temporal.requests[workflow_id]
    assert request.files == [SlackFileRef(id="F0HANDBOOK", name="handbook.pdf")]
    assert "files-pri" not in request.model_dump_json(), "no private URL in the workflow's input"


def _edited(ws: Any, dm: Channel, said: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "message",
        "subtype": "message_changed",
        "channel": dm.id,
        "channel_type": "im",
        "hidden": True,
        "message": {**said, "text": "How do heartbeats work, really?"},
        "previous_message": said,
        "ts": ws.new_ts(),
        "event_ts": ws.new_ts(),
    }


async def test_chatter_is_acked_and_left_alone(
    app: AsyncApp, slack: SlackApiServer, channel: Channel, dm: Channel, temporal: FakeTemporal
) -> None:
    ws = slack.workspace
    said = ws.post(dm.id, user=ASKER, text="How do heartbeats work?")
    other_bot = {**payloads.im_message(ws, channel=dm, message=said), "bot_id": "B0OTHER", "subtype": "bot_message"}
    in_channel = {**payloads.im_message(ws, channel=channel, message=said), "channel_type": "channel"}
    ours = {**payloads.im_message(ws, channel=dm, message=said), "user": ws.bot_user_id, "bot_id": ws.bot_id}
    joined = {**payloads.im_message(ws, channel=dm, message=said), "subtype": "channel_join"}
    for event in (_edited(ws, dm, said), other_bot, in_channel, ours, joined):
        response = await app.async_dispatch(event_request(payloads.event_callback(ws, event)))
        assert response.status == 200, event
    await asyncio.sleep(0.2)
    assert temporal.starts == []
    assert [m for m in ws.messages[dm.id] if m["user"] == ws.bot_user_id] == []


async def test_another_apps_message_naming_the_bot_starts_nothing(
    app: AsyncApp, slack: SlackApiServer, channel: Channel, temporal: FakeTemporal
) -> None:
    # An integration that echoes people's text ("@ResearchBot what is…") into the channel: its message
    # carries a bot_id (and, from an incoming webhook, the bot_message subtype).
    _, body = mention(slack, channel, "<@U0BOT> What is a task queue?")
    echoed = [{"bot_id": "B0ECHO"}, {"bot_id": "B0ECHO", "subtype": "bot_message"}, {"bot_profile": {"id": "B0"}}]
    for extra in echoed:
        response = await app.async_dispatch(event_request({**body, "event": {**body["event"], **extra}}))
        assert response.status == 200
    await asyncio.sleep(0.2)
    assert temporal.starts == []
    assert [m for m in slack.workspace.messages[channel.id] if m["user"] == slack.workspace.bot_user_id] == []


async def test_a_mention_over_the_cap_is_refused_to_the_asker_alone(
    app: AsyncApp, slack: SlackApiServer, channel: Channel, temporal: FakeTemporal
) -> None:
    for n in range(6):  # the default cap: 5 runs in flight a person
        _, body = mention(slack, channel, f"<@U0BOT> What is a task queue, take {n}?")
        assert (await app.async_dispatch(event_request(body))).status == 200
    assert len(temporal.starts) == 5

    def ephemeral() -> list[dict[str, Any]]:
        return [c.params for c in slack.calls_to("chat.postEphemeral")]

    (told,) = await eventually(ephemeral, "the refusal")
    assert told["user"] == ASKER and told["text"].startswith("You have 5 runs in progress; the limit is 5.")
    said_in_public = [
        m["text"] for m in slack.workspace.messages[channel.id] if m["user"] == slack.workspace.bot_user_id
    ]
    assert not [text for text in said_in_public if "limit" in text]


async def test_another_apps_event_is_refused(app: AsyncApp, slack: SlackApiServer, channel: Channel) -> None:
    _, event = mention(slack, channel, "<@U0BOT> What is a task queue?")
    response = await app.async_dispatch(event_request({**event, "api_app_id": "A0SOMEONEELSE"}))
    assert response.status == 403


async def test_the_pane_opening_gets_the_suggested_prompts(app: AsyncApp, slack: SlackApiServer, dm: Channel) -> None:
    ws = slack.workspace
    asker = ws.users[ASKER]
    home = payloads.event_callback(ws, payloads.app_home_opened(ws, user=asker, channel=dm, tab="home"))
    assert (await app.async_dispatch(event_request(home))).status == 200
    opened = payloads.event_callback(ws, payloads.app_home_opened(ws, user=asker, channel=dm))
    assert (await app.async_dispatch(event_request(opened))).status == 200
    [call] = await eventually(lambda: slack.calls_to("assistant.threads.setSuggestedPrompts"), "the prompts set")
    assert "thread_ts" not in call.params, "the agent experience: a thread_ts would make the call fail silently"
    assert json.loads(json.dumps(call.params["prompts"])) == SUGGESTED_PROMPTS

    root = ws.post(dm.id, user=ASKER, text="New chat")
    started = payloads.assistant_thread_started(ws, user=asker, channel=dm, thread_ts=root["ts"])
    assert (await app.async_dispatch(event_request(payloads.event_callback(ws, started)))).status == 200
    calls = await eventually(
        lambda: slack.calls_to("assistant.threads.setSuggestedPrompts")[1:], "the thread's prompts set"
    )
    assert calls[0].params["thread_ts"] == root["ts"]


@pytest.mark.parametrize("broken", [{"ts": 12.5}, {"ts": "yesterday"}, {"channel": ""}, {"user": "U" * 40}])
async def test_a_signed_but_malformed_mention_is_a_400_and_starts_nothing(
    app: AsyncApp, slack: SlackApiServer, channel: Channel, temporal: FakeTemporal, broken: dict[str, Any]
) -> None:
    _, event = mention(slack, channel, "<@U0BOT> What is a task queue?")
    response = await app.async_dispatch(event_request({**event, "event": {**event["event"], **broken}}))
    assert response.status == 400 and temporal.starts == []
