"""Replies in a run's thread, end to end: signed ``message.channels`` events (as the sandbox delivers them)
reach the real bot served by uvicorn; a real `researchbot worker` process runs the workflows on the
session's Temporal dev server and posts into the sandbox Slack.

While a draft waits, a reply from someone who may decide is only offered back as feedback, and is acted on
after the click; after the run has finished, a reply is a follow-up run in the same thread, and two replies
at once make one run that takes both. Everyone else's replies are left alone.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from temporalio.service import RPCError, RPCStatusCode

from bot.from_thread import NOT_READ_CLICK, STILL_RESEARCHING
from sandbox import Channel, payloads
from sandbox.slack_api import RateLimit
from slack_ui.ids import follow_up_id, workflow_id_for_message
from slack_ui.replies import THREAD_REVISE
from tests.e2e.slack_stack import (
    APPROVER,
    ASKER,
    QUESTION,
    STRANGER,
    Stack,
    click,
    clicked,
    draft,
    ephemerals,
    eventually,
    messages,
    open_modal,
    roots,
    runs_asked_in,
    started_run,
    status_of,
    submit,
)
from tests.workflows.helpers import wait_for_stage
from workflows.models import DecisionKind, Outcome, Stage


@pytest.fixture
def room(stack: Stack, channel: Channel) -> Channel:
    """The test's channel with the bot in it: Slack sends message.channels only for channels the bot is in."""
    stack.workspace.join(channel.id, stack.workspace.bot_user_id)
    return channel


async def reply(stack: Stack, channel: Channel, thread_ts: str, user: str, text: str) -> dict[str, Any]:
    """A person's reply in a thread, delivered to the bot as Slack does; the bot's 200 is asserted."""
    ws = stack.workspace
    posted = ws.post(channel.id, user=user, text=text, thread_ts=thread_ts)
    event = payloads.event_callback(ws, payloads.channel_message(ws, channel=channel, message=posted))
    response = await stack.http.event(event)
    assert response.status_code == 200, response.text
    return posted


def prompts_to(stack: Stack, channel: Channel, user: str) -> list[dict[str, Any]]:
    with stack.workspace.lock:
        return [
            e
            for e in stack.workspace.ephemerals
            if e["channel"] == channel.id and e["user"] == user and "Revise with this" in json.dumps(e.get("blocks"))
        ]


async def click_ephemeral(stack: Stack, channel: Channel, prompt: dict[str, Any], action_id: str, user: str) -> None:
    actions = next(block for block in prompt["blocks"] if block["type"] == "actions")
    button = next(element for element in actions["elements"] if element["action_id"] == action_id)
    payload = clicked(stack, channel, prompt, button, actions["block_id"], user, ephemeral=True)
    assert (await stack.http.interaction(payload)).status_code == 200


async def absent(stack: Stack, workflow_id: str) -> bool:
    try:
        await stack.client.get_workflow_handle(workflow_id).describe()
    except RPCError as error:
        return error.status == RPCStatusCode.NOT_FOUND
    return False


async def test_a_reply_to_a_waiting_draft_is_feedback_only_after_the_click(stack: Stack, room: Channel) -> None:
    first_draft, workflow_id = await started_run(stack, room)
    thread_ts = roots(stack, room)[0]["ts"]

    await reply(stack, room, thread_ts, STRANGER, "I think it should cover sagas too")  # may not decide
    await reply(stack, room, thread_ts, ASKER, "Please say more about heartbeat timeouts")
    [prompt] = await eventually(lambda: prompts_to(stack, room, ASKER), "the feedback offer", stack)
    assert prompt.get("thread_ts") == thread_ts
    assert (await status_of(stack, workflow_id)).decisions == [], "a reply alone decides nothing"
    assert prompts_to(stack, room, STRANGER) == [] and ephemerals(stack, room, STRANGER) == []

    seen = len(ephemerals(stack, room, ASKER))
    await click_ephemeral(stack, room, prompt, THREAD_REVISE, ASKER)
    await click_ephemeral(stack, room, prompt, THREAD_REVISE, ASKER)  # the same click twice is one decision
    second = await eventually(lambda: draft(stack, room, 2), "the revised draft", stack)
    status = await status_of(stack, workflow_id)
    [decision] = [d for d in status.decisions if d.applied]
    assert (decision.kind, decision.decided_by) == (DecisionKind.REVISE, ASKER)
    assert decision.feedback == "Please say more about heartbeat timeouts"
    assert len(ephemerals(stack, room, ASKER)) > seen, "the clicker is told what became of it"
    assert first_draft["ts"] != second["ts"]
    await click(stack, room, second, "reject", ASKER)
    assert (await stack.handle(workflow_id).result()).outcome is Outcome.REJECTED


async def test_replies_after_the_finish_are_one_follow_up_run_in_the_thread(stack: Stack, room: Channel) -> None:
    found, workflow_id = await started_run(stack, room)
    modal = await open_modal(stack, room, found, "approve", ASKER)
    assert "errors" not in (await submit(stack, modal, ASKER, None)).text
    assert (await stack.handle(workflow_id).result()).outcome is Outcome.APPROVED
    thread_ts = roots(stack, room)[0]["ts"]
    follow_up = follow_up_id(workflow_id)

    await reply(stack, room, thread_ts, STRANGER, "What about child workflows?")
    assert await absent(stack, follow_up), "someone who may not decide starts nothing"

    ws = stack.workspace
    asked = [
        ws.post(room.id, user=ASKER, text="What about activity timeouts?", thread_ts=thread_ts),
        ws.post(room.id, user=APPROVER, text="And how do retry policies interact with them?", thread_ts=thread_ts),
    ]
    events = [payloads.event_callback(ws, payloads.channel_message(ws, channel=room, message=m)) for m in asked]
    answers = await asyncio.gather(*(stack.http.event(event) for event in events))
    assert [a.status_code for a in answers] == [200, 200]

    status = await wait_for_stage(stack.handle(follow_up), Stage.AWAITING_DECISION, tries=1200)
    assert status.question == "What about activity timeouts?\nAnd how do retry policies interact with them?"
    assert sorted(await runs_asked_in(stack, room)) == sorted([workflow_id, follow_up]), "one follow-up run"
    history = await stack.handle(follow_up).fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    earlier = json.loads(started.input.payloads[0].data)["earlier"]
    assert (earlier["workflow_id"], earlier["question"]) == (workflow_id, QUESTION)
    assert earlier["report"] and earlier["sources"], "it starts from the earlier run's report and sources"

    follow_up_draft = await eventually(
        lambda: next((m for m in messages(stack, room) if follow_up in json.dumps(m.get("blocks"))), None),
        "the follow-up's draft",
        stack,
    )
    assert follow_up_draft["thread_ts"] == thread_ts, "the follow-up runs in the same thread"
    assert len(roots(stack, room)) == 1

    await reply(stack, room, thread_ts, ASKER, "Also cover the schedule-to-close timeout")
    [prompt] = await eventually(lambda: prompts_to(stack, room, ASKER), "the offer on the follow-up's draft", stack)
    assert follow_up in json.dumps(prompt["blocks"]), "a reply to the follow-up's waiting draft is about that draft"
    assert not any(STILL_RESEARCHING in said for said in ephemerals(stack, room, ASKER))
    await stack.handle(follow_up).terminate("test over")


async def test_replies_find_their_run_without_reading_slack(stack: Stack, room: Channel) -> None:
    """conversations.replies is Tier 1 (one a minute) for many installs: a run's thread is known from the
    table the worker writes when it posts the run's root (core/run_threads.py), so replies cost no read."""
    _, workflow_id = await started_run(stack, room)
    thread_ts = roots(stack, room)[0]["ts"]
    before = len(stack.slack.calls_to("conversations.replies"))

    chatter = stack.workspace.post(room.id, user=ASKER, text="lunch?")
    await reply(stack, room, chatter["ts"], STRANGER, "yes please")  # a thread that is no run's
    await reply(stack, room, thread_ts, STRANGER, "I think it should cover sagas too")  # may not act
    await reply(stack, room, thread_ts, ASKER, "Please say more about heartbeat timeouts")
    await eventually(lambda: prompts_to(stack, room, ASKER), "the feedback offer", stack)

    assert len(stack.slack.calls_to("conversations.replies")) == before
    assert prompts_to(stack, room, STRANGER) == []
    await stack.handle(workflow_id).terminate("done")


async def test_in_a_dm_a_reply_in_the_runs_thread_is_feedback_not_a_new_question(stack: Stack) -> None:
    ws = stack.workspace
    dm = ws.add_channel(f"dm-reply-{ASKER}", im=True, members=[ASKER], bot_member=True)
    asked = ws.post(dm.id, user=ASKER, text="How does Temporal make workflows durable?")
    answer = await stack.http.event(payloads.event_callback(ws, payloads.im_message(ws, channel=dm, message=asked)))
    assert answer.status_code == 200
    workflow_id = workflow_id_for_message(ws.team_id, ASKER, dm.id, asked["ts"])
    await wait_for_stage(stack.handle(workflow_id), Stage.AWAITING_DECISION, tries=1200)
    reads = len(stack.slack.calls_to("conversations.replies"))

    said = ws.post(dm.id, user=ASKER, text="Please say more about heartbeat timeouts", thread_ts=asked["ts"])
    event = payloads.event_callback(ws, payloads.im_message(ws, channel=dm, message=said))
    assert (await stack.http.event(event)).status_code == 200
    [prompt] = await eventually(lambda: prompts_to(stack, dm, ASKER), "the feedback offer in the DM", stack)
    await click_ephemeral(stack, dm, prompt, THREAD_REVISE, ASKER)
    status = await wait_for_stage(stack.handle(workflow_id), Stage.AWAITING_DECISION, tries=1200)
    assert status.draft_round == 2
    [decision] = [d for d in status.decisions if d.applied]
    assert decision.feedback == "Please say more about heartbeat timeouts"
    assert await runs_asked_in(stack, dm) == [workflow_id], "the reply started no run of its own"
    assert len(stack.slack.calls_to("conversations.replies")) == reads, "the offer carried the reply"
    await stack.handle(workflow_id).terminate("test over")


# Tier 1: Slack allows commercially distributed non-Marketplace apps installed since May 2025 one
# conversations.replies and one conversations.history a minute. A run, a reply offered as feedback and
# clicked, and a follow-up in the finished thread all work with those two methods limited so.
READS = ("conversations.replies", "conversations.history")
TIER_ONE = RateLimit(per_minute=1, burst=1)


@pytest.fixture
def tier_one(stack: Stack) -> Iterator[None]:
    slack = stack.slack
    saved = slack.enforce_rate_limits, slack.rate_limits
    slack.enforce_rate_limits, slack.rate_limits = True, dict.fromkeys(READS, TIER_ONE)
    try:
        yield
    finally:
        slack.enforce_rate_limits, slack.rate_limits = saved


@pytest.mark.slow
async def test_a_run_its_feedback_and_a_follow_up_need_no_read_beyond_tier_one(
    stack: Stack, room: Channel, tier_one: None
) -> None:
    _, workflow_id = await started_run(stack, room)
    thread_ts = roots(stack, room)[0]["ts"]

    await reply(stack, room, thread_ts, ASKER, "Please say more about heartbeat timeouts")
    [prompt] = await eventually(lambda: prompts_to(stack, room, ASKER), "the feedback offer", stack)
    await click_ephemeral(stack, room, prompt, THREAD_REVISE, ASKER)
    second = await eventually(lambda: draft(stack, room, 2), "the revised draft", stack)
    modal = await open_modal(stack, room, second, "approve", ASKER)
    assert "errors" not in (await submit(stack, modal, ASKER, None)).text
    assert (await stack.handle(workflow_id).result()).outcome is Outcome.APPROVED

    await reply(stack, room, thread_ts, ASKER, "What about activity timeouts?")
    status = await wait_for_stage(stack.handle(follow_up_id(workflow_id)), Stage.AWAITING_DECISION, tries=1200)
    assert status.question == "What about activity timeouts?"
    await stack.handle(follow_up_id(workflow_id)).terminate("test over")

    assert {method: stack.slack.rate_limited[method] for method in READS} == dict.fromkeys(READS, 0)


async def test_a_long_reply_read_while_slack_refuses_is_answered_and_taken_on_the_next_click(
    stack: Stack, room: Channel
) -> None:
    """A reply too long for a button value is read again on the click; a 429 on that read is said to the
    clicker (not taken for a deleted reply), and the next click takes it."""
    _, workflow_id = await started_run(stack, room)
    thread_ts = roots(stack, room)[0]["ts"]
    long_feedback = "Please say more about heartbeat timeouts. " * 55  # about 2,300 characters
    await reply(stack, room, thread_ts, ASKER, long_feedback)
    [prompt] = await eventually(lambda: prompts_to(stack, room, ASKER), "the feedback offer", stack)

    stack.slack.rate_limit("conversations.replies", retry_after=60)
    seen = len(ephemerals(stack, room, ASKER))
    await click_ephemeral(stack, room, prompt, THREAD_REVISE, ASKER)
    said = await eventually(lambda: ephemerals(stack, room, ASKER)[seen:] or None, "the answer to the click", stack)
    assert len(said) == 1 and said[0].startswith(NOT_READ_CLICK)
    assert (await status_of(stack, workflow_id)).decisions == []

    await click_ephemeral(stack, room, prompt, THREAD_REVISE, ASKER)
    await eventually(lambda: draft(stack, room, 2), "the revised draft", stack)
    [decision] = [d for d in (await status_of(stack, workflow_id)).decisions if d.applied]
    assert decision.feedback == long_feedback.strip()
    await stack.handle(workflow_id).terminate("test over")
