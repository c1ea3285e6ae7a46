"""The modals' submissions: the decision modal (Approve with an optional note, Revise with feedback) and
the Edit plan modal. Each delivers its answer, then answers Slack inside its 3 seconds.

A refusal (someone who may not answer, told up front; an edited plan out of bounds; the update
validator's words; or "this run has already ended") stays in the modal as an error on its field, so the
person sees why nothing happened. An answer queued as a signal because no worker answered closes the
modal and says so in an ephemeral message. What the answer did, the workflow's activities post in the
thread. Metadata that is not ours is refused with a 400 before anything is sent (bot/app.py).
"""

from __future__ import annotations

from typing import Any

import structlog
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from bot.decisions import ON_DRAFT, ON_PLAN, clicker_may_not, decision_id, deliver, tell_queued
from bot.under_way import after_ack
from slack_ui.ids import decode_plan_value, decode_private_metadata, field
from slack_ui.replies import DECISION_MODAL, FEEDBACK_ACTION, FEEDBACK_BLOCK, PLAN_ACTION, PLAN_BLOCK, PLAN_EDIT_MODAL
from workflows.models import DecisionInput, GateAnswer, PlanReviewInput, PlanReviewKind
from workflows.plan_review import parse_plan, plan_problem

__all__ = ["register", "submit_decision", "submit_plan"]

log = structlog.get_logger(__name__)


def register(app: AsyncApp) -> None:
    app.view(DECISION_MODAL)(submit_decision)
    app.view(PLAN_EDIT_MODAL)(submit_plan)


async def submit_decision(
    ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    """Approve (with an optional note) or Revise (with feedback) from the modal."""
    workflow_id, draft_round, kind = decode_private_metadata(view.get("private_metadata"))
    user, view_id = field(body, "user", "id"), field(view, "id")
    if refusal := await clicker_may_not(context, body, workflow_id, ON_DRAFT):
        await ack(response_action="errors", errors={FEEDBACK_BLOCK: refusal})
        return
    decision = DecisionInput(
        kind=kind,
        draft_round=draft_round,
        decided_by=user,
        feedback=_typed(view, FEEDBACK_BLOCK, FEEDBACK_ACTION) or None,
        decision_id=decision_id("view", view_id),
    )
    await _deliver(ack, client, context, workflow_id, decision, FEEDBACK_BLOCK)


async def submit_plan(
    ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    """The edited plan: checked (one sub-question a line, bounded), delivered, then answered."""
    workflow_id, plan_round = decode_plan_value(view.get("private_metadata"))
    user, view_id = field(body, "user", "id"), field(view, "id")
    if refusal := await clicker_may_not(context, body, workflow_id, ON_PLAN):
        await ack(response_action="errors", errors={PLAN_BLOCK: refusal})
        return
    sub_questions = parse_plan(_typed(view, PLAN_BLOCK, PLAN_ACTION))
    if problem := plan_problem(sub_questions):
        await ack(response_action="errors", errors={PLAN_BLOCK: problem})
        return
    review = PlanReviewInput(
        kind=PlanReviewKind.EDIT,
        plan_round=plan_round,
        reviewed_by=user,
        sub_questions=sub_questions,
        review_id=decision_id("plan-view", view_id),
    )
    await _deliver(ack, client, context, workflow_id, review, PLAN_BLOCK)


async def _deliver(
    ack: AsyncAck,
    client: AsyncWebClient,
    context: AsyncBoltContext,
    workflow_id: str,
    answer: GateAnswer,
    block: str,
) -> None:
    """Deliver, then ack: a refusal stays in the modal on ``block``; a queued answer is told apart."""
    outcome = await deliver(context["temporal"], workflow_id, answer)
    if not outcome.accepted:
        await ack(response_action="errors", errors={block: outcome.message})
        return
    await ack()
    if outcome.queued:
        after_ack(context, tell_queued(client, workflow_id, answer.answered_by, outcome.message), "a queued answer")


def _typed(view: dict[str, Any], block: str, action: str) -> str:
    """What the person typed in the modal's field; empty when nothing was."""
    try:
        value = view["state"]["values"][block][action]["value"]
    except (KeyError, TypeError):
        return ""
    return value if isinstance(value, str) else ""
