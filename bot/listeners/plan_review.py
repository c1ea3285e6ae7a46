"""The plan's Search this / Edit plan buttons, and the Edit plan modal's submission.

Search this delivers the review (the update accepted, or its signal sent) before the ack, then tells the
person what became of it. Edit plan opens a modal with the plan's sub-questions, read from the plan
message itself, so nothing slow happens before ``views.open`` within the trigger's 3 seconds; its
submission is checked (one sub-question a line, bounded), delivered, and only then answered: a refusal
stays in the modal. Who may review is read from the run's workflow id and RESEARCH_APPROVERS first; the
workflow's validator has the last word. Values that are not ours are refused with a 400 (bot/app.py).
"""

from __future__ import annotations

from typing import Any

import structlog
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.decisions import decision_id, tell_queued
from bot.people import team_of_clicker
from bot.plan_review import deliver_review, may_not_review, plan_of
from bot.under_way import after_ack
from slack_ui.ids import decode_plan_value, field
from slack_ui.replies import PLAN_ACTION, PLAN_BLOCK, PLAN_EDIT_MODAL, plan_edit_modal
from slack_ui.thread import PLAN_EDIT_ACTION, PLAN_SEARCH_ACTION
from workflows.models import PlanReviewInput, PlanReviewKind
from workflows.plan_review import parse_plan, plan_problem

__all__ = ["open_plan_editor", "register", "search_this", "submit_plan"]

log = structlog.get_logger(__name__)

MODAL_FAILED = "Slack did not let me open the form in time. Click Edit plan again."


def register(app: AsyncApp) -> None:
    app.action(PLAN_SEARCH_ACTION)(search_this)
    app.action(PLAN_EDIT_ACTION)(open_plan_editor)
    app.view(PLAN_EDIT_MODAL)(submit_plan)


async def search_this(
    ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond, context: AsyncBoltContext
) -> None:
    """Search this: deliver the review, ack, and say what became of it."""
    workflow_id, plan_round = decode_plan_value(action.get("value"))
    user = field(body, "user", "id")
    if refusal := await may_not_review(
        context["settings"], workflow_id, user, context.get("people"), team_of_clicker(body)
    ):
        await ack()
        after_ack(context, respond(text=refusal, response_type="ephemeral", replace_original=False), "a refusal")
        return
    click = decision_id("plan-click", workflow_id, str(plan_round), user, str(action.get("action_ts", "")))
    review = PlanReviewInput(kind=PlanReviewKind.SEARCH, plan_round=plan_round, reviewed_by=user, review_id=click)
    outcome = await deliver_review(context["temporal"], workflow_id, review)
    await ack()
    after_ack(context, respond(text=outcome.message, response_type="ephemeral", replace_original=False), "the outcome")


async def open_plan_editor(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    client: AsyncWebClient,
    respond: AsyncRespond,
    context: AsyncBoltContext,
) -> None:
    """Edit plan: the modal with the plan's sub-questions; the review is sent when it is submitted."""
    workflow_id, plan_round = decode_plan_value(action.get("value"))
    user, trigger_id = field(body, "user", "id"), field(body, "trigger_id")
    await ack()
    if refusal := await may_not_review(
        context["settings"], workflow_id, user, context.get("people"), team_of_clicker(body)
    ):
        after_ack(context, respond(text=refusal, response_type="ephemeral", replace_original=False), "a refusal")
        return
    view = plan_edit_modal(workflow_id, plan_round, plan_of(body.get("message") or {}))
    after_ack(context, _open_editor(client, respond, trigger_id, view, workflow_id, user), "the plan editor")


async def _open_editor(
    client: AsyncWebClient, respond: AsyncRespond, trigger_id: str, view: dict[str, Any], workflow_id: str, user: str
) -> None:
    try:
        await client.views_open(trigger_id=trigger_id, view=view)
    except SlackApiError as error:
        log.warning(
            "plan_review.modal_not_opened", workflow_id=workflow_id, user=user, error=error.response.get("error")
        )
        await respond(text=MODAL_FAILED, response_type="ephemeral", replace_original=False)


async def submit_plan(
    ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    """The edited plan: checked, delivered, then answered; a refusal stays in the modal."""
    workflow_id, plan_round = decode_plan_value(view.get("private_metadata"))
    user, view_id = field(body, "user", "id"), field(view, "id")
    if refusal := await may_not_review(
        context["settings"], workflow_id, user, context.get("people"), team_of_clicker(body)
    ):
        await ack(response_action="errors", errors={PLAN_BLOCK: refusal})
        return
    sub_questions = parse_plan(_typed(view))
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
    outcome = await deliver_review(context["temporal"], workflow_id, review)
    if not outcome.accepted:
        await ack(response_action="errors", errors={PLAN_BLOCK: outcome.message})
        return
    await ack()
    if outcome.queued:
        after_ack(context, tell_queued(client, workflow_id, user, outcome.message), "a queued review")


def _typed(view: dict[str, Any]) -> str:
    try:
        value = view["state"]["values"][PLAN_BLOCK][PLAN_ACTION]["value"]
    except (KeyError, TypeError):
        return ""
    return value if isinstance(value, str) else ""
