"""The draft's Approve / Revise / Reject buttons.

Approve and Revise open the decision modal with the click's trigger_id, which Slack lets live
for 3 seconds, so nothing slow happens before ``views.open``: who may decide is read from the
run's workflow id and RESEARCH_APPROVERS, not from Temporal. Reject is confirmed on the button
itself, so its click sends the decision. The workflow's update validator has the last word
either way; its refusals reach the person as they are.
"""

from __future__ import annotations

import asyncio
import hashlib
from datetime import timedelta
from typing import Any

import structlog
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from temporalio.client import Client

from bot.listeners.commands import parse_workflow_id
from bot.runs import DecisionOutcome, send_decision
from core.settings import Settings
from slack_ui.mrkdwn import mention
from slack_ui.replies import decision_modal
from slack_ui.thread import decode_button_value
from workflows.models import DecisionInput, DecisionKind

__all__ = ["decision_id", "deliver", "may_not_decide", "open_decision_modal", "question_of", "register", "reject"]

log = structlog.get_logger(__name__)

# A modal's submission must be answered within Slack's 3 s, and send_decision waits up to
# UPDATE_WAIT for a worker before it falls back to a signal: both fit inside DELIVER_WAIT.
UPDATE_WAIT = timedelta(seconds=1.8)
DELIVER_WAIT = timedelta(seconds=2.6)
MODAL_FAILED = "Slack did not let me open the form in time. Click the button again."
UNAVAILABLE = (
    "The research service did not answer in time, so your decision may not have been recorded. "
    "Check the thread in a minute, and decide again if the draft is still waiting."
)


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
    await ack()
    if (clicked := await _click_by_a_decider(body, action, respond, context)) is None:
        return
    workflow_id, draft_round, user = clicked
    view = decision_modal(action["action_id"], workflow_id, draft_round, question_of(body.get("message") or {}))
    try:
        await client.views_open(trigger_id=body["trigger_id"], view=view)
    except SlackApiError as error:
        log.warning("decision.modal_not_opened", workflow_id=workflow_id, user=user, error=error.response.get("error"))
        await respond(text=MODAL_FAILED, response_type="ephemeral", replace_original=False)


async def reject(
    ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond, context: AsyncBoltContext
) -> None:
    """Reject (already confirmed on the button): send the decision, and say what became of it."""
    await ack()
    if (clicked := await _click_by_a_decider(body, action, respond, context)) is None:
        return
    workflow_id, draft_round, user = clicked
    click = decision_id("click", workflow_id, str(draft_round), user, action.get("action_ts", ""))
    decision = DecisionInput(kind=DecisionKind.REJECT, draft_round=draft_round, decided_by=user, decision_id=click)
    outcome = await deliver(context["temporal"], workflow_id, decision)
    await respond(text=outcome.message, response_type="ephemeral", replace_original=False)


async def _click_by_a_decider(
    body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond, context: AsyncBoltContext
) -> tuple[str, int, str] | None:
    """The clicked run, draft round and person; None (after telling them why) if they may not decide."""
    workflow_id, draft_round = decode_button_value(action["value"])
    user = body["user"]["id"]
    if refusal := may_not_decide(context["settings"], workflow_id, user):
        await respond(text=refusal, response_type="ephemeral", replace_original=False)
        return None
    return workflow_id, draft_round, user


# ------------------------------------------------------------------ shared with the modal


def may_not_decide(settings: Settings, workflow_id: str, user: str) -> str | None:
    """A fast refusal for someone who is neither the asker nor an approver; None when they may
    (or when the workflow id does not say who asked: then the update validator decides)."""
    address = parse_workflow_id(workflow_id)
    if address is None or user == address.user_id or user in settings.research_approvers:
        return None
    log.info("decision.refused_up_front", workflow_id=workflow_id, user=user)
    return (
        f"Only {mention(address.user_id)}, who asked, and the configured approvers can decide on this draft. "
        "Nothing was changed: it is still waiting for them."
    )


def decision_id(*parts: str) -> str:
    """The same id for the same click or the same modal, so an update and its signal fallback apply once."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


async def deliver(temporal: Client, workflow_id: str, decision: DecisionInput) -> DecisionOutcome:
    """send_decision, bounded to fit Slack's 3 s; Temporal being unreachable is an answer too."""
    bound = log.bind(workflow_id=workflow_id, user=decision.decided_by, kind=decision.kind.value)
    try:
        outcome = await asyncio.wait_for(
            send_decision(temporal, workflow_id, decision, wait=UPDATE_WAIT), DELIVER_WAIT.total_seconds()
        )
    except Exception:
        bound.exception("decision.delivery_failed")
        return DecisionOutcome(accepted=False, queued=False, message=UNAVAILABLE)
    bound.info("decision.sent", accepted=outcome.accepted, queued=outcome.queued, answer=outcome.message)
    return outcome


def question_of(message: dict[str, Any]) -> str:
    """The question a draft message shows (its "*Question:*" line, or its fallback text), as plain text."""
    contexts = [block for block in message.get("blocks") or [] if block.get("type") == "context"]
    for element in (element for block in contexts for element in block.get("elements") or []):
        if str(element.get("text", "")).startswith("*Question:* "):
            return _plain(element["text"].removeprefix("*Question:* "))
    text = str(message.get("text") or "")
    if "ready for review: " in text:
        return _plain(text.split("ready for review: ", 1)[1].rsplit(" (part ", 1)[0])
    return "(see the draft in the thread)"


def _plain(mrkdwn: str) -> str:
    return mrkdwn.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
