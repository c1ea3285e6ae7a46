"""Reviewing the plan before searching, end to end: `/research --review-plan` through the bot served by
uvicorn, a real `researchbot worker` posting to the sandbox Slack, and the session's Temporal dev server.

Command → plan with Search this / Edit plan → Edit plan modal, prefilled → submission → the run searches
the edited plan → draft. The harness is tests/e2e/slack_stack.py.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from sandbox import Channel, payloads
from tests.e2e.slack_stack import (
    APPROVER,
    ASKER,
    QUESTION,
    STRANGER,
    Stack,
    ask,
    click,
    draft,
    ephemerals,
    eventually,
    messages,
    new_ephemeral,
    roots,
    views,
)
from tests.workflows.helpers import wait_for_stage
from workflows.models import Outcome, PlanReviewKind, Stage

EDITED = ["What is a Temporal retry policy?", "How do activity heartbeats work?"]


def plan(stack: Stack, channel: Channel) -> dict[str, Any] | None:
    """The plan message, once posted (with its buttons or the line that replaced them)."""
    return next((m for m in messages(stack, channel) if m.get("text", "").startswith("Research plan")), None)


def buttons(message: dict[str, Any]) -> list[str]:
    return [e["action_id"] for b in message.get("blocks") or [] if b["type"] == "actions" for e in b["elements"]]


async def submit_plan(stack: Stack, view: dict[str, Any], user: str, text: str) -> httpx.Response:
    ws = stack.workspace
    submitted = {**view, "state": {"values": payloads.input_values({"plan": {"plan": text}})}}
    return await stack.http.interaction(payloads.view_submission(ws, user=ws.users[user], view=submitted))


async def test_an_edited_plan_is_what_the_run_searches_before_its_draft(stack: Stack, channel: Channel) -> None:
    response = await ask(stack, channel, f"--review-plan {QUESTION}")
    assert response.status_code == 200 and "Researching" in response.json()["text"]
    shown = await eventually(lambda: (m := plan(stack, channel)) and buttons(m) and m, "the plan with buttons", stack)
    assert buttons(shown) == ["plan_search", "plan_edit"]
    workflow_id = json.loads(shown["blocks"][-1]["elements"][0]["value"])["wf"]
    waiting = await wait_for_stage(stack.handle(workflow_id), Stage.AWAITING_PLAN_REVIEW, tries=1200)
    assert waiting.searches_total == 0, "nothing is searched while the plan waits"
    await eventually(
        lambda: any("Waiting for the plan" in json.dumps(m["blocks"]) for m in roots(stack, channel)),
        "the root's status showing the wait",
        stack,
    )

    seen = len(ephemerals(stack, channel, STRANGER))
    assert (await click(stack, channel, shown, "plan_search", STRANGER)).status_code == 200
    assert "can review this plan" in await new_ephemeral(stack, channel, STRANGER, seen)

    before = len(views(stack, ASKER))
    assert (await click(stack, channel, shown, "plan_edit", ASKER)).status_code == 200
    [modal] = (await eventually(lambda: views(stack, ASKER)[before:], "the Edit plan modal", stack))[:1]
    assert modal["callback_id"] == "plan_edit_modal"
    prefilled = modal["blocks"][-1]["element"]["initial_value"].splitlines()
    assert prefilled == waiting.sub_questions, "the modal opens with the plan as posted"

    too_many = await submit_plan(stack, modal, ASKER, "\n".join(f"Question {n}?" for n in range(9)))
    assert "at most 8 sub-questions" in too_many.json()["errors"]["plan"]
    answer = await submit_plan(stack, modal, ASKER, "\n".join(f"{n}. {q}" for n, q in enumerate(EDITED, 1)))
    assert answer.status_code == 200 and "errors" not in answer.text, answer.text

    first = await eventually(lambda: draft(stack, channel, 1), "the first draft with buttons", stack)
    status = await wait_for_stage(stack.handle(workflow_id), Stage.AWAITING_DECISION, tries=1200)
    assert status.sub_questions[:2] == EDITED and status.searches_done >= 2
    [reviewed] = status.plan_reviews
    assert (reviewed.kind, reviewed.reviewed_by, reviewed.via) == (PlanReviewKind.EDIT, ASKER, "update")
    closed = await eventually(
        lambda: (m := plan(stack, channel)) and not buttons(m) and m, "the plan's buttons replaced", stack
    )
    assert "Plan edited by" in json.dumps(closed["blocks"]) and EDITED[0] in json.dumps(closed["blocks"])

    again = await submit_plan(stack, modal, APPROVER, "Something else?")
    assert again.json()["errors"]["plan"] == "this plan has already been reviewed"
    seen = len(ephemerals(stack, channel, ASKER))
    assert (await click(stack, channel, first, "reject", ASKER)).status_code == 200
    assert "Rejected" in await new_ephemeral(stack, channel, ASKER, seen)
    assert (await stack.handle(workflow_id).result()).outcome is Outcome.REJECTED


async def test_search_this_goes_on_with_the_plan(stack: Stack, channel: Channel) -> None:
    assert (await ask(stack, channel, f"--review-plan {QUESTION}")).status_code == 200
    shown = await eventually(lambda: (m := plan(stack, channel)) and buttons(m) and m, "the plan with buttons", stack)
    workflow_id = json.loads(shown["blocks"][-1]["elements"][0]["value"])["wf"]
    planned = (await wait_for_stage(stack.handle(workflow_id), Stage.AWAITING_PLAN_REVIEW, tries=1200)).sub_questions
    seen = len(ephemerals(stack, channel, APPROVER))
    assert (await click(stack, channel, shown, "plan_search", APPROVER)).status_code == 200
    assert "Searching as planned" in await new_ephemeral(stack, channel, APPROVER, seen)
    await eventually(lambda: draft(stack, channel, 1), "the first draft with buttons", stack)
    status = await stack.handle(workflow_id).query("status")
    assert status["sub_questions"][: len(planned)] == planned
    await stack.handle(workflow_id).terminate("test over")
