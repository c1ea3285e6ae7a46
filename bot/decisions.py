"""Decisions from Slack: who may decide, the decision's id, and delivering it inside Slack's 3 seconds.

The listeners (bot/listeners/actions.py for the buttons, bot/listeners/views.py for the modal) call
these; the workflow's update validator has the last word on every decision. Guests and people from other
organisations decide only if RESEARCH_ALLOW_GUESTS / RESEARCH_ALLOW_EXTERNAL_USERS say so, or if they are
among RESEARCH_APPROVERS (bot/people.py): the workflow does not know who is a guest.
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

from bot.people import DECIDING_LOOKUP_WAIT, Bar, People
from bot.runs import UPDATE_WAIT, DecisionOutcome, send_decision
from core.settings import Settings
from slack_ui.ids import parse_workflow_id
from slack_ui.mrkdwn import mention, unescape
from workflows.models import DecisionInput

__all__ = [
    "BARRED",
    "DELIVER_WAIT",
    "UNAVAILABLE",
    "decision_id",
    "deliver",
    "may_not_decide",
    "question_of",
    "tell_queued",
    "visitor_refusal",
]

log = structlog.get_logger(__name__)

# A decision is delivered before Slack gets its answer, within Slack's 3 s: send_decision waits up to
# UPDATE_WAIT for a worker before it falls back to a signal, and both fit inside DELIVER_WAIT.
DELIVER_WAIT = timedelta(seconds=2.6)

UNAVAILABLE = (
    "The research service did not answer in time, so your decision may not have been recorded. "
    "Check the thread in a minute, and decide again if the draft is still waiting."
)
BARRED = {
    Bar.GUEST: "Guests can't decide on research here; ask a member of the workspace. Nothing was changed.",
    Bar.EXTERNAL: (
        "People from other organisations can't decide on research here; ask a member of this workspace. "
        "Nothing was changed."
    ),
    Bar.UNKNOWN: "I couldn't check with Slack who you are just now, so nothing was decided. Try again in a minute.",
}


async def may_not_decide(
    settings: Settings, workflow_id: str, user: str, people: People | None = None, user_team: str | None = None
) -> str | None:
    """A fast refusal for someone who is neither the asker nor an approver, or an asker who is a guest or
    external (``people``; ``user_team``: their own team, where the request names it); None when they may
    (or when the workflow id does not say who asked: then the update validator decides)."""
    if user in settings.research_approvers:
        return None
    address = parse_workflow_id(workflow_id)
    if address is not None and user != address.user_id:
        log.info("decision.refused_up_front", workflow_id=workflow_id, user=user)
        return (
            f"Only {mention(address.user_id)}, who asked, and the configured approvers can decide on this draft. "
            "Nothing was changed: it is still waiting for them."
        )
    return await visitor_refusal(settings, workflow_id, user, people, user_team)


async def visitor_refusal(
    settings: Settings, workflow_id: str, user: str, people: People | None, user_team: str | None
) -> str | None:
    """BARRED's line for a guest or an external user who is not an approver, else None (so for plan reviews)."""
    if people is None or user in settings.research_approvers:
        return None
    if bar := await people.bar(settings, user, user_team, DECIDING_LOOKUP_WAIT):
        log.info("decision.refused_visitor", workflow_id=workflow_id, user=user, bar=bar.value)
        return BARRED[bar]
    return None


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
