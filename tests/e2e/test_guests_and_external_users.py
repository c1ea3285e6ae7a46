"""Guests and people from other organisations, end to end: signed requests over HTTP to the real bot, the
sandbox Slack answering its users.info, a real worker, the session's Temporal. By default (the settings'
defaults) a guest's /research and an external user's mention start nothing and are told why privately; a
bot with RESEARCH_ALLOW_GUESTS starts the guest's run, and with the setting off again the guest's click on
Approve decides nothing, and their reply in the run's thread starts no follow-up."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from bot.app import build_asgi_app
from bot.caps import BARRED
from bot.decisions import BARRED as BARRED_DECIDING
from bot.people import Bar
from bot.server import HttpServer
from bot.start_in_time import STARTED
from sandbox import Channel, SlackApiServer, payloads
from tests.e2e.slack_stack import (
    ASKER,
    SECRET,
    Stack,
    ask,
    click,
    draft,
    eventually,
    new_ephemeral,
    runs_asked_in,
    status_of,
    views,
    workflow_id_of,
)
from tests.fakes.slack_sender import SlackSender
from tests.workflows.helpers import wait_for_stage
from workflows.models import Stage

GUEST, OUTSIDER = "UGUEST", "UOUTSIDER"


@pytest.fixture(scope="module", autouse=True)
def visitors(slack: SlackApiServer) -> None:
    slack.workspace.add_user("guest", id=GUEST).is_restricted = True
    slack.workspace.add_user("outsider", id=OUTSIDER).team_id = "TOTHERORG"


@pytest.fixture
def room(slack: SlackApiServer) -> Channel:
    return slack.workspace.add_channel(f"connect-{uuid.uuid4().hex[:6]}", members=[ASKER, GUEST, OUTSIDER])


@asynccontextmanager
async def bot_allowing_guests(stack: Stack) -> AsyncIterator[SlackSender]:
    """A second bot on the same Slack, Temporal and task queue, with RESEARCH_ALLOW_GUESTS set."""
    settings = stack.settings.model_copy(update={"research_allow_guests": True})
    server = HttpServer(build_asgi_app(settings, stack.client), "127.0.0.1", 0)
    await server.start()
    sender = SlackSender(server.url, SECRET)
    try:
        yield sender
    finally:
        await sender.aclose()
        await server.stop()


async def test_a_guest_starts_and_decides_nothing_unless_the_bot_allows_guests(stack: Stack, room: Channel) -> None:
    refused = await ask(stack, room, "What is a task queue?", GUEST)
    assert refused.status_code == 200
    assert refused.json() == {"response_type": "ephemeral", "text": BARRED[Bar.GUEST]}
    await asyncio.sleep(0.3)  # visibility would have caught up with a start
    assert await runs_asked_in(stack, room, GUEST) == []

    async with bot_allowing_guests(stack) as allowing:
        fields = payloads.command_form(
            stack.workspace,
            channel=room,
            user=stack.workspace.users[GUEST],
            text="What is a task queue?",
            response_url=stack.slack.response_url(room.id, GUEST),
        )
        started = await allowing.command(**fields)
    assert started.status_code == 200 and started.json()["text"] == STARTED
    message = await eventually(lambda: draft(stack, room, 1), "the guest's draft", stack)
    workflow_id = workflow_id_of(message)
    await wait_for_stage(stack.handle(workflow_id), Stage.AWAITING_DECISION, tries=1200)

    opened = len(views(stack, GUEST))
    assert (await click(stack, room, message, "approve", GUEST)).status_code == 200  # the default bot
    assert await new_ephemeral(stack, room, GUEST, 0) == BARRED_DECIDING[Bar.GUEST] + "[]"
    assert len(views(stack, GUEST)) == opened, "no modal for a guest"
    status = await status_of(stack, workflow_id)
    assert status.stage is Stage.AWAITING_DECISION and status.decisions == []
    await stack.handle(workflow_id).terminate("test over")

    # Over, the run's thread takes follow-ups, but not from a guest while guests are not let in.
    ws = stack.workspace
    thread_ts = message.get("thread_ts") or message["ts"]
    asked = ws.post(room.id, user=GUEST, text="And what about sagas?", thread_ts=thread_ts)
    event = payloads.event_callback(ws, payloads.channel_message(ws, channel=room, message=asked))
    assert (await stack.http.event(event)).status_code == 200
    assert (await new_ephemeral(stack, room, GUEST, 1)).startswith(BARRED_DECIDING[Bar.GUEST])
    await asyncio.sleep(0.3)  # visibility would have caught up with a start
    assert await runs_asked_in(stack, room, GUEST) == [workflow_id], "no follow-up run"


async def test_an_external_users_mention_is_refused_privately_and_starts_nothing(stack: Stack, room: Channel) -> None:
    ws = stack.workspace
    said = ws.post(room.id, user=OUTSIDER, text="<@U0BOT> What is a task queue?")
    event = payloads.event_callback(ws, payloads.app_mention(ws, channel=room, message=said))
    assert (await stack.http.event(event)).status_code == 200
    assert await new_ephemeral(stack, room, OUTSIDER, 0) == BARRED[Bar.EXTERNAL] + "[]"
    await asyncio.sleep(0.3)  # visibility would have caught up with a start
    assert await runs_asked_in(stack, room, OUTSIDER) == []
    with ws.lock:
        assert [m for m in ws.messages.get(room.id, []) if m["ts"] != said["ts"]] == [], "nothing said in public"
