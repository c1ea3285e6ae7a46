"""The buttons of a run waiting for a person: the draft's Approve / Revise / Reject, and the plan's
Search this / Edit plan; and a published report's Export buttons (bot/exports.py).

A button that asks for more (Approve, Revise, Edit plan) opens its modal with the click's trigger_id,
which Slack lets live for 3 seconds, so nothing slow happens before ``views.open``: who may answer is
read from the run's workflow id and RESEARCH_APPROVERS (bot/decisions.py), not from Temporal, and an
edited plan starts from the plan message itself. A button that is the whole answer (Reject, confirmed
on the button; Search this) delivers it (the update accepted, or its signal sent) before the ack, then
tells the person what became of it. The workflow's validator has the last word either way; its refusals
reach the person as they are. A value that is not ours is refused with a 400 before anything else
(bot/app.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.decisions import ON_DRAFT, ON_PLAN, clicker_may_not, decision_id, deliver, plan_of, question_of
from bot.exports import export_input, may_not_export, start_export
from bot.schedule_buttons import press
from bot.under_way import after_ack
from slack_ui.exports import EXPORT_ACTION, decode_export_value
from slack_ui.ids import decode_button_value, decode_plan_value, field
from slack_ui.replies import decision_modal, plan_edit_modal
from slack_ui.schedules import SCHEDULE_ACTIONS, decode_schedule_value
from slack_ui.thread import PLAN_EDIT_ACTION, PLAN_SEARCH_ACTION
from workflows.models import DecisionInput, DecisionKind, GateAnswer, PlanReviewInput, PlanReviewKind

__all__ = [
    "export_report",
    "open_decision_modal",
    "open_plan_editor",
    "press_schedule",
    "register",
    "reject",
    "search_this",
]

log = structlog.get_logger(__name__)

MODAL_FAILED = "Slack did not let me open the form in time. Click the button again."


def register(app: AsyncApp) -> None:
    app.action("approve")(open_decision_modal)
    app.action("revise")(open_decision_modal)
    app.action("reject")(reject)
    app.action(PLAN_SEARCH_ACTION)(search_this)
    app.action(PLAN_EDIT_ACTION)(open_plan_editor)
    app.action(EXPORT_ACTION)(export_report)
    register_schedules(app)


async def open_decision_modal(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    client: AsyncWebClient,
    respond: AsyncRespond,
    context: AsyncBoltContext,
) -> None:
    """Approve or Revise: the modal that asks for feedback; the decision is sent when it is submitted."""
    workflow_id, draft_round = decode_button_value(action.get("value"))
    view = decision_modal(action["action_id"], workflow_id, draft_round, question_of(body.get("message") or {}))
    await _open_modal(ack, body, client, respond, context, workflow_id, view, ON_DRAFT)


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
    view = plan_edit_modal(workflow_id, plan_round, plan_of(body.get("message") or {}))
    await _open_modal(ack, body, client, respond, context, workflow_id, view, ON_PLAN)


async def reject(
    ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond, context: AsyncBoltContext
) -> None:
    """Reject (already confirmed on the button): deliver the decision, ack, and say what became of it."""
    workflow_id, draft_round = decode_button_value(action.get("value"))

    def decision(user: str, click: str) -> DecisionInput:
        return DecisionInput(kind=DecisionKind.REJECT, draft_round=draft_round, decided_by=user, decision_id=click)

    click = ("click", workflow_id, str(draft_round))
    await _answer(ack, body, action, respond, context, workflow_id, ON_DRAFT, click, decision)


async def search_this(
    ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond, context: AsyncBoltContext
) -> None:
    """Search this: deliver the review, ack, and say what became of it."""
    workflow_id, plan_round = decode_plan_value(action.get("value"))

    def review(user: str, click: str) -> PlanReviewInput:
        return PlanReviewInput(kind=PlanReviewKind.SEARCH, plan_round=plan_round, reviewed_by=user, review_id=click)

    click = ("plan-click", workflow_id, str(plan_round))
    await _answer(ack, body, action, respond, context, workflow_id, ON_PLAN, click, review)


async def export_report(
    ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond, context: AsyncBoltContext
) -> None:
    """Export Markdown / HTML / PDF on a report: start its upload into the thread (asker and approvers
    only), ack, and say what became of it."""
    workflow_id, format = decode_export_value(action.get("value"))
    export = export_input(body, action, workflow_id, format)
    said = may_not_export(context["settings"], workflow_id, export.requested_by)
    if said is None:
        said = await start_export(context["temporal"], context["settings"], export)
    await ack()
    after_ack(context, respond(text=said, response_type="ephemeral", replace_original=False), "the export's answer")


async def _answer(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    respond: AsyncRespond,
    context: AsyncBoltContext,
    workflow_id: str,
    on: str,
    click: tuple[str, ...],
    answer: Callable[[str, str], GateAnswer],
) -> None:
    """A button that is the whole answer: ``answer(user, click id)`` delivered before the ack, then told."""
    user = field(body, "user", "id")
    if refusal := await clicker_may_not(context, body, workflow_id, on):
        await ack()
        after_ack(context, respond(text=refusal, response_type="ephemeral", replace_original=False), "a refusal")
        return
    click_id = decision_id(*click, user, str(action.get("action_ts", "")))
    outcome = await deliver(context["temporal"], workflow_id, answer(user, click_id))
    await ack()
    after_ack(context, respond(text=outcome.message, response_type="ephemeral", replace_original=False), "the outcome")


async def _open_modal(
    ack: AsyncAck,
    body: dict[str, Any],
    client: AsyncWebClient,
    respond: AsyncRespond,
    context: AsyncBoltContext,
    workflow_id: str,
    view: dict[str, Any],
    on: str,
) -> None:
    """A button that asks for more: ack at once, then the modal, for someone who may answer."""
    user, trigger_id = field(body, "user", "id"), field(body, "trigger_id")
    await ack()
    if refusal := await clicker_may_not(context, body, workflow_id, on):
        after_ack(context, respond(text=refusal, response_type="ephemeral", replace_original=False), "a refusal")
        return
    after_ack(context, _show(client, respond, trigger_id, view, workflow_id, user), "a modal")


async def _show(
    client: AsyncWebClient, respond: AsyncRespond, trigger_id: str, view: dict[str, Any], workflow_id: str, user: str
) -> None:
    try:
        await client.views_open(trigger_id=trigger_id, view=view)
    except SlackApiError as error:
        log.warning("decision.modal_not_opened", workflow_id=workflow_id, user=user, error=error.response.get("error"))
        await respond(text=MODAL_FAILED, response_type="ephemeral", replace_original=False)


# ------------------------------------------------------------------ schedules (/research schedules)


def register_schedules(app: AsyncApp) -> None:
    for action_id in SCHEDULE_ACTIONS:
        app.action(action_id)(press_schedule)


async def press_schedule(
    ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond, context: AsyncBoltContext
) -> None:
    """Pause, Resume, Run now or Delete on a schedule (bot/schedule_buttons.py): done before the ack for
    its creator or an approver, then one private line says what became of it."""
    schedule_id = decode_schedule_value(action.get("value"))
    said = await press(
        context["settings"], context["temporal"], context.get("people"), body, str(action["action_id"]), schedule_id
    )
    await ack()
    after_ack(context, respond(text=said, response_type="ephemeral", replace_original=False), "a schedule's answer")
