"""Asking by message, end to end: ``@ResearchBot <question>`` in a channel and a question in a DM with the
bot arrive as signed Events API requests (JSON) at the real bot served by uvicorn; a real `researchbot
worker` process posts the run into the asking message's thread in the sandbox Slack; Temporal is the
session's dev server. A retried delivery (``X-Slack-Retry-Num``) starts no second run.
"""

from __future__ import annotations

import asyncio
from typing import Any

from bot import from_message, start_in_time
from sandbox import Channel, payloads
from sandbox.assistant import pane_of
from tests.e2e.slack_stack import ASKER, QUESTION, Stack, eventually, messages, open_modal, submit
from tests.workflows.helpers import wait_for_stage
from workflows.models import Outcome, Stage

BOT_MENTION = "<@U0BOT>"


def said_by_person(stack: Stack, channel: Channel, text: str, user: str = ASKER) -> dict[str, Any]:
    """A person's message in ``channel``, as the sandbox stores it (Slack escapes &, < and >)."""
    return stack.workspace.post(channel.id, user=user, text=text)


def in_thread(stack: Stack, channel: Channel, thread_ts: str) -> list[dict[str, Any]]:
    return [m for m in messages(stack, channel) if m.get("thread_ts") == thread_ts and m["ts"] != thread_ts]


def draft_in(stack: Stack, channel: Channel, thread_ts: str) -> dict[str, Any] | None:
    return next(
        (
            m
            for m in in_thread(stack, channel, thread_ts)
            if any(b["type"] == "actions" and b.get("block_id") == "decision-1" for b in m.get("blocks") or [])
        ),
        None,
    )


async def runs_for(stack: Stack, channel: Channel) -> list[str]:
    query = f"WorkflowId STARTS_WITH 'research-{stack.workspace.team_id}-{ASKER}-{channel.id}-'"
    return [execution.id async for execution in stack.client.list_workflows(query)]


async def test_a_mention_starts_a_run_whose_thread_hangs_under_it(stack: Stack, channel: Channel) -> None:
    mention = said_by_person(stack, channel, f"{BOT_MENTION} {QUESTION.replace('&', '&amp;')}")
    event = payloads.event_callback(
        stack.workspace, payloads.app_mention(stack.workspace, channel=channel, message=mention)
    )
    response = await stack.http.event(event)
    assert response.status_code == 200

    found = await eventually(
        lambda: draft_in(stack, channel, mention["ts"]), "the draft in the mention's thread", stack
    )
    [workflow_id] = await runs_for(stack, channel)
    status = await wait_for_stage(stack.handle(workflow_id), Stage.AWAITING_DECISION, tries=1200)
    assert status.question == QUESTION, "the bot's mention is not part of the question; entities are undone"
    thread = in_thread(stack, channel, mention["ts"])
    root = thread[0]
    assert "How does Temporal retry activities" in root["text"], "the run's first post answers the mention"
    assert all(m["user"] == stack.workspace.bot_user_id for m in thread)
    assert [m for m in messages(stack, channel) if "thread_ts" not in m] == [mention], "nothing else in the channel"
    assert found["thread_ts"] == mention["ts"]

    modal = await open_modal(stack, channel, found, "approve", ASKER)
    assert "errors" not in (await submit(stack, modal, ASKER, None)).text
    assert (await stack.handle(workflow_id).result()).outcome is Outcome.APPROVED


async def test_a_retried_mention_starts_one_run_and_says_nothing_twice(stack: Stack, channel: Channel) -> None:
    mention = said_by_person(stack, channel, f"{BOT_MENTION} What is continue-as-new?")
    event = payloads.event_callback(
        stack.workspace, payloads.app_mention(stack.workspace, channel=channel, message=mention)
    )
    first, retries = await asyncio.gather(
        stack.http.event(event),
        asyncio.gather(*(stack.http.event(event, retry_num=n, retry_reason="http_timeout") for n in (1, 2, 3))),
    )
    assert [r.status_code for r in (first, *retries)] == [200, 200, 200, 200]
    await eventually(lambda: draft_in(stack, channel, mention["ts"]), "the draft", stack)
    late = await stack.http.event(event, retry_num=3, retry_reason="http_timeout")  # after the run is under way
    assert late.status_code == 200

    [workflow_id] = await runs_for(stack, channel)
    thread = in_thread(stack, channel, mention["ts"])
    firsts = [m for m in thread if (m.get("metadata") or {}).get("event_payload", {}).get("step") == "root"]
    assert len(firsts) == 1, "one run, one first post"
    notices = (from_message.QUEUED_HERE, from_message.HOW_TO_ASK, start_in_time.UNAVAILABLE, start_in_time.SLOW)
    assert not [m for m in thread if m.get("text") in notices], "the run's first post is the only acknowledgement"
    await stack.handle(workflow_id).terminate("test over")


async def test_a_question_in_a_dm_is_researched_in_its_thread_with_the_pane_status(stack: Stack) -> None:
    ws = stack.workspace
    dm = ws.add_channel(f"dm-{ASKER}", im=True, members=[ASKER], bot_member=True)
    asked = said_by_person(stack, dm, "How does Temporal make workflows durable?")
    response = await stack.http.event(payloads.event_callback(ws, payloads.im_message(ws, channel=dm, message=asked)))
    assert response.status_code == 200

    found = await eventually(lambda: draft_in(stack, dm, asked["ts"]), "the draft in the DM thread", stack)
    [workflow_id] = await runs_for(stack, dm)
    [status_call] = stack.slack.calls_to("assistant.threads.setStatus")[-1:]
    assert (status_call.params["channel_id"], status_call.params["thread_ts"]) == (dm.id, asked["ts"])
    assert pane_of(ws, dm.id)["status"] == {}, "the run's replies in the thread cleared the status line"
    assert pane_of(ws, dm.id)["titles"][asked["ts"]] == "How does Temporal make workflows durable?"

    modal = await open_modal(stack, dm, found, "approve", ASKER)
    assert "errors" not in (await submit(stack, modal, ASKER, None)).text
    assert (await stack.handle(workflow_id).result()).outcome is Outcome.APPROVED
    await eventually(
        lambda: any("Research report" in str(m.get("blocks")) for m in in_thread(stack, dm, asked["ts"])),
        "the report in the DM thread",
        stack,
    )
