"""The draft's Approve / Revise / Reject buttons.

Approve and Revise open the decision modal with the click's trigger_id, which Slack lets live for 3
seconds, so nothing slow happens before ``views.open``: who may decide is read from the run's
workflow id and RESEARCH_APPROVERS (bot/decisions.py), not from Temporal. Reject is confirmed on the
button itself, so its click delivers the decision (the update accepted, or its signal sent) before
the ack, then tells the person what became of it. The workflow's update validator has the last word
either way; its refusals reach the person as they are. A button value that is not ours is refused
with a 400 before anything else (bot/app.py).
"""

from __future__ import annotations

from typing import Any

import structlog
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.decisions import decision_id, deliver, may_not_decide, question_of
from bot.people import team_of_clicker
from bot.under_way import after_ack
from slack_ui.ids import decode_button_value, field
from slack_ui.replies import decision_modal
from workflows.models import DecisionInput, DecisionKind

__all__ = ["open_decision_modal", "register", "reject"]

log = structlog.get_logger(__name__)

MODAL_FAILED = "Slack did not let me open the form in time. Click the button again."


def register(app: AsyncApp) -> None:
    app.action("approve")(open_decision_modal)
    app.action("revise")(open_decision_modal)
    app.action("reject")(reject)


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
    user, trigger_id = field(body, "user", "id"), field(body, "trigger_id")
    await ack()
    if refusal := await may_not_decide(
        context["settings"], workflow_id, user, context.get("people"), team_of_clicker(body)
    ):
        after_ack(context, respond(text=refusal, response_type="ephemeral", replace_original=False), "a refusal")
        return
    view = decision_modal(action["action_id"], workflow_id, draft_round, question_of(body.get("message") or {}))
    after_ack(context, _open_modal(client, respond, trigger_id, view, workflow_id, user), "the decision modal")


async def _open_modal(
    client: AsyncWebClient, respond: AsyncRespond, trigger_id: str, view: dict[str, Any], workflow_id: str, user: str
) -> None:
    try:
        await client.views_open(trigger_id=trigger_id, view=view)
    except SlackApiError as error:
        log.warning("decision.modal_not_opened", workflow_id=workflow_id, user=user, error=error.response.get("error"))
        await respond(text=MODAL_FAILED, response_type="ephemeral", replace_original=False)


async def reject(
    ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond, context: AsyncBoltContext
) -> None:
    """Reject (already confirmed on the button): deliver the decision, ack, and say what became of it."""
    workflow_id, draft_round = decode_button_value(action.get("value"))
    user = field(body, "user", "id")
    if refusal := await may_not_decide(
        context["settings"], workflow_id, user, context.get("people"), team_of_clicker(body)
    ):
        await ack()
        after_ack(context, respond(text=refusal, response_type="ephemeral", replace_original=False), "a refusal")
        return
    click = decision_id("click", workflow_id, str(draft_round), user, str(action.get("action_ts", "")))
    decision = DecisionInput(kind=DecisionKind.REJECT, draft_round=draft_round, decided_by=user, decision_id=click)
    outcome = await deliver(context["temporal"], workflow_id, decision)
    await ack()
    after_ack(context, respond(text=outcome.message, response_type="ephemeral", replace_original=False), "the outcome")
