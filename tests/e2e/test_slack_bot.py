"""The Slack bot end to end: signed requests over real HTTP to the bot served by uvicorn, a real
`researchbot worker` process posting to the sandbox Slack, and the session's Temporal dev server.

Command → ack → root message and thread → draft with buttons → click → modal → submission →
update (or a signal when no worker answers) → the report in the thread. The harness is
tests/slack_stack.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from bot import start_in_time
from sandbox import Channel, SlackApiServer
from tests.e2e.slack_stack import (
    APPROVER,
    ASKER,
    STRANGER,
    Stack,
    ask,
    click,
    command_fields,
    draft,
    ephemerals,
    eventually,
    messages,
    new_ephemeral,
    open_modal,
    report,
    roots,
    running_stack,
    runs_asked_in,
    started_run,
    status_of,
    submit,
    views,
)
from tests.workflows.helpers import wait_for_stage
from workflows.models import DecisionKind, Outcome, Stage

# ------------------------------------------------------------------ the tests


async def test_a_question_becomes_a_reviewed_report_in_its_thread(stack: Stack, channel: Channel) -> None:
    first_draft, workflow_id = await started_run(stack, channel)
    [root] = roots(stack, channel)
    assert "How does Temporal retry activities" in root["text"]
    assert first_draft["thread_ts"] == root["ts"]
    thread = [m for m in messages(stack, channel) if m.get("thread_ts") == root["ts"]]
    assert len(thread) >= 3, "the plan and progress come before the draft"
    assert workflow_id.startswith(f"research-{stack.workspace.team_id}-{ASKER}-{channel.id}-")

    seen = len(ephemerals(stack, channel, ASKER))
    assert (await ask(stack, channel, "status")).status_code == 200
    listing = await new_ephemeral(stack, channel, ASKER, seen)
    assert "How does Temporal retry activities" in listing and "Waiting for a decision" in listing
    thread_link = f"{stack.workspace.url}archives/{channel.id}/p{root['ts'].replace('.', '')}"
    assert f"<{thread_link}|How does Temporal retry activities" in listing, "each run links to its thread"

    modal = await open_modal(stack, channel, first_draft, "approve", APPROVER)
    assert modal["callback_id"] == "decision_modal"
    assert json.loads(modal["private_metadata"]) == {"wf": workflow_id, "round": 1, "kind": "approve"}
    assert "How does Temporal retry activities &amp; what are heartbeats?" in json.dumps(modal["blocks"])
    answer = await submit(stack, modal, APPROVER, "Keep it short.")
    assert answer.status_code == 200 and "errors" not in answer.text

    result = await stack.handle(workflow_id).result()
    assert result.outcome is Outcome.APPROVED
    [decided] = result.decisions
    assert (decided.kind, decided.decided_by, decided.feedback, decided.via) == (
        DecisionKind.APPROVE,
        APPROVER,
        "Keep it short.",
        "update",
    )
    final = await eventually(lambda: report(stack, channel), "the final report in the thread", stack)
    assert final["thread_ts"] == root["ts"]
    assert draft(stack, channel, 1) is None, "the draft's buttons were replaced once it was decided"


async def test_someone_who_may_not_decide_is_refused_and_the_run_keeps_waiting(stack: Stack, channel: Channel) -> None:
    message, workflow_id = await started_run(stack, channel)
    for kind in ("approve", "reject"):
        seen, opened = len(ephemerals(stack, channel, STRANGER)), len(views(stack, STRANGER))
        assert (await click(stack, channel, message, kind, STRANGER)).status_code == 200
        refusal = await new_ephemeral(stack, channel, STRANGER, seen)
        assert "who asked, and the configured approvers can decide" in refusal and f"<@{ASKER}>" in refusal
        assert len(views(stack, STRANGER)) == opened, "no modal for someone who may not decide"
    status = await status_of(stack, workflow_id)
    assert status.stage is Stage.AWAITING_DECISION and status.decisions == []
    assert draft(stack, channel, 1) is not None

    seen = len(ephemerals(stack, channel, ASKER))
    assert (await click(stack, channel, message, "reject", ASKER)).status_code == 200
    assert "Rejected" in await new_ephemeral(stack, channel, ASKER, seen)
    assert (await stack.handle(workflow_id).result()).outcome is Outcome.REJECTED


async def test_a_stale_round_a_double_submission_and_a_click_after_the_end_get_clear_answers(
    stack: Stack, channel: Channel
) -> None:
    first, workflow_id = await started_run(stack, channel)
    revise = await open_modal(stack, channel, first, "revise", ASKER)
    assert "errors" not in (await submit(stack, revise, ASKER, "Add more about heartbeats.")).text
    second = await eventually(lambda: draft(stack, channel, 2), "the second draft", stack)
    await wait_for_stage(stack.handle(workflow_id), Stage.AWAITING_DECISION, draft_round=2, tries=1200)

    stale = await open_modal(stack, channel, first, "approve", ASKER)
    refused = await submit(stack, stale, ASKER, None)
    assert refused.json() == {
        "response_action": "errors",
        "errors": {"feedback": "that decision is for draft round 1, but the current draft is round 2"},
    }

    approve = await open_modal(stack, channel, second, "approve", APPROVER)
    assert "errors" not in (await submit(stack, approve, APPROVER, None)).text
    again = await submit(stack, approve, APPROVER, None)
    assert again.json()["errors"]["feedback"] == "this draft has already been decided"
    result = await stack.handle(workflow_id).result()
    assert result.outcome is Outcome.APPROVED
    assert [(d.kind, d.applied) for d in result.decisions] == [
        (DecisionKind.REVISE, True),
        (DecisionKind.APPROVE, True),
    ]

    seen = len(ephemerals(stack, channel, ASKER))
    assert (await click(stack, channel, second, "reject", ASKER)).status_code == 200
    assert "this run has already ended; nothing was changed" in await new_ephemeral(stack, channel, ASKER, seen)
    assert len((await stack.handle(workflow_id).result()).decisions) == 2


async def test_a_bot_restarted_between_draft_and_click_still_takes_the_decision(stack: Stack, channel: Channel) -> None:
    message, workflow_id = await started_run(stack, channel)
    assert stack.bot is not None
    port = stack.bot.port
    await stack.stop_bot()
    await stack.start_bot(port)
    modal = await open_modal(stack, channel, message, "approve", ASKER)
    assert "errors" not in (await submit(stack, modal, ASKER, None)).text
    assert (await stack.handle(workflow_id).result()).outcome is Outcome.APPROVED
    await eventually(lambda: report(stack, channel), "the final report in the thread", stack)


async def test_a_decision_while_no_worker_runs_is_queued_and_applied_when_one_starts(
    slack: SlackApiServer, env: WorkflowEnvironment, channel: Channel, tmp_path: Path
) -> None:
    async with running_stack(slack, env, tmp_path) as own:
        message, workflow_id = await started_run(own, channel)
        own.stop_worker()
        modal = await open_modal(own, channel, message, "approve", ASKER)
        seen = len(ephemerals(own, channel, ASKER))
        answer = await submit(own, modal, ASKER, None)
        assert answer.status_code == 200 and "errors" not in answer.text, answer.text
        assert "your decision is queued" in await new_ephemeral(own, channel, ASKER, seen)
        assert (await own.handle(workflow_id).describe()).status is not None

        own.start_worker()
        result = await own.handle(workflow_id).result()
        assert result.outcome is Outcome.APPROVED
        assert [(d.kind, d.decided_by) for d in result.decisions if d.applied] == [(DecisionKind.APPROVE, ASKER)]
        await eventually(lambda: report(own, channel), "the final report in the thread", own)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "Usage:"),
        ("   ", "Usage:"),
        ("help", "ResearchBot* researches a question"),
        ("x" * 2001, "the question is 2001 characters long; keep it under 2000"),
    ],
)
async def test_help_usage_and_an_overlong_question_answer_privately_and_start_nothing(
    stack: Stack, channel: Channel, text: str, expected: str
) -> None:
    response = await ask(stack, channel, text)
    assert response.status_code == 200
    assert expected in response.text
    assert response.json().get("response_type", "ephemeral") == "ephemeral"
    assert await runs_asked_in(stack, channel) == []
    assert messages(stack, channel) == []


async def test_the_same_command_delivered_twice_starts_one_run(stack: Stack, channel: Channel) -> None:
    fields = command_fields(stack, channel, "What is continue-as-new?")
    first, second = [await stack.http.command(**fields) for _ in range(2)]
    assert first.status_code == second.status_code == 200
    assert "Researching" in first.json()["text"] and "Researching" in second.json()["text"]
    await eventually(lambda: draft(stack, channel, 1), "the draft", stack)
    [workflow_id] = await runs_asked_in(stack, channel)
    assert len(roots(stack, channel)) == 1
    await stack.handle(workflow_id).terminate("test over")


async def test_an_unreachable_temporal_gets_a_clear_answer_and_nothing_else(
    slack: SlackApiServer, channel: Channel
) -> None:
    dead = await Client.connect("127.0.0.1:1", lazy=True, data_converter=pydantic_data_converter)
    stack = Stack(slack, env=None, queue="nowhere", data=Path("."), client=dead)  # type: ignore[arg-type]
    await stack.start_bot()
    try:
        # The start comes before the ack, and Temporal refuses at once: the ack says nothing started.
        response = await ask(stack, channel, "What is durable execution?")
        assert response.status_code == 200 and response.json()["text"] == start_in_time.UNAVAILABLE

        seen = len(ephemerals(stack, channel, ASKER))
        assert (await ask(stack, channel, "status")).status_code == 200
        assert "can't list your runs" in await new_ephemeral(stack, channel, ASKER, seen)

        button = {
            "blocks": [
                {
                    "type": "actions",
                    "block_id": "decision-1",
                    "elements": [
                        {
                            "type": "button",
                            "action_id": "reject",
                            "text": {"type": "plain_text", "text": "Reject"},
                            "value": json.dumps(
                                {
                                    "wf": f"research-{slack.workspace.team_id}-{ASKER}-{channel.id}-{'0' * 20}",
                                    "round": 1,
                                }
                            ),
                        }
                    ],
                }
            ],
            "ts": slack.workspace.new_ts(),
            "text": "Draft 1",
        }
        seen = len(ephemerals(stack, channel, ASKER))
        assert (await click(stack, channel, button, "reject", ASKER)).status_code == 200
        assert "did not answer in time" in await new_ephemeral(stack, channel, ASKER, seen)
    finally:
        await stack.stop_bot()
