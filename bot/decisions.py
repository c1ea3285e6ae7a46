"""Decisions from Slack: who may decide, the decision's id, and delivering it inside Slack's 3 seconds.

The listeners (bot/listeners/actions.py for the buttons, bot/listeners/views.py for the modal) call
these; the workflow's update validator has the last word on every decision.
"""

from __future__ import annotations

import asyncio
import hashlib
from datetime import timedelta
from typing import Any

import structlog
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from temporalio.client import Client

from bot.runs import UPDATE_WAIT, DecisionOutcome, send_decision
from core.settings import Settings
from slack_ui.ids import parse_workflow_id
from slack_ui.mrkdwn import mention, unescape
from workflows.models import DecisionInput

__all__ = ["DELIVER_WAIT", "UNAVAILABLE", "decision_id", "deliver", "may_not_decide", "question_of", "tell_queued"]

log = structlog.get_logger(__name__)

# A decision is delivered before Slack gets its answer, within Slack's 3 s: send_decision waits up to
# UPDATE_WAIT for a worker before it falls back to a signal, and both fit inside DELIVER_WAIT.
DELIVER_WAIT = timedelta(seconds=2.6)

UNAVAILABLE = (
    "The research service did not answer in time, so your decision may not have been recorded. "
    "Check the thread in a minute, and decide again if the draft is still waiting."
)


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
    """send_decision, bounded by DELIVER_WAIT; Temporal being unreachable is an answer too."""
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
    contexts = [
        block for block in message.get("blocks") or [] if isinstance(block, dict) and block.get("type") == "context"
    ]
    for element in (element for block in contexts for element in block.get("elements") or []):
        if isinstance(element, dict) and str(element.get("text", "")).startswith("*Question:* "):
            return unescape(str(element["text"]).removeprefix("*Question:* "))
    text = str(message.get("text") or "")
    if "ready for review: " in text:
        return unescape(text.split("ready for review: ", 1)[1].rsplit(" (part ", 1)[0])
    return "(see the draft in the thread)"


async def tell_queued(client: AsyncWebClient, workflow_id: str, user: str, text: str) -> None:
    """An ephemeral note in the run's channel (its workflow id says which); best effort."""
    address = parse_workflow_id(workflow_id)
    if address is None:
        log.warning("decision.queued_not_told", workflow_id=workflow_id, user=user, reason="no channel in the id")
        return
    try:
        await client.chat_postEphemeral(channel=address.channel_id, user=user, text=text)
    except SlackApiError as error:
        log.warning("decision.queued_not_told", workflow_id=workflow_id, user=user, reason=error.response.get("error"))
