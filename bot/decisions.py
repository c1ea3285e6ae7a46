"""A person's decisions from Slack, on a draft or on a plan: any answer a run waits for (workflows/gate.py).
Who may decide, the click's id, what a message shows (its question, its plan), and delivering the answer
inside Slack's 3 seconds: the update if a worker answers in time, else its signal.

The listeners (bot/listeners/actions.py for the buttons, bot/listeners/views.py for the modals) call
these; the workflow's update validator has the last word on every answer. Guests and people from other
organisations decide only if RESEARCH_ALLOW_GUESTS / RESEARCH_ALLOW_EXTERNAL_USERS say so, or if they are
among RESEARCH_APPROVERS (bot/people.py): the workflow does not know who is a guest."""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import structlog
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from temporalio.client import Client

from bot.people import DECIDING_LOOKUP_WAIT, Bar, People, team_of_clicker
from bot.runs import UPDATE_WAIT, AnswerOutcome, send_answer
from core.settings import Settings
from slack_ui.ids import field, parse_workflow_id
from slack_ui.mrkdwn import mention, unescape
from workflows.models import GateAnswer

__all__ = [
    "BARRED",
    "DELIVER_WAIT",
    "ON_DRAFT",
    "ON_PLAN",
    "UNAVAILABLE",
    "clicker_may_not",
    "decision_id",
    "deliver",
    "may_not_decide",
    "plan_of",
    "question_of",
    "tell_queued",
    "visitor_refusal",
]

log = structlog.get_logger(__name__)

_NUMBERED = re.compile(r"^(\d{1,2})\. (.+)$")

# An answer is delivered before Slack gets its ack, within Slack's 3 s: send_answer waits up to
# UPDATE_WAIT for a worker before it falls back to a signal, and both fit inside DELIVER_WAIT.
DELIVER_WAIT = timedelta(seconds=2.6)

UNAVAILABLE = (
    "The research service did not answer in time, so your {noun} may not have been recorded. "
    "Check the thread in a minute, and answer again if the run is still waiting."
)
ON_DRAFT = "decide on this draft"
ON_PLAN = "review this plan"
BARRED = {
    Bar.GUEST: "Guests can't decide on research here; ask a member of the workspace. Nothing was changed.",
    Bar.EXTERNAL: (
        "People from other organisations can't decide on research here; ask a member of this workspace. "
        "Nothing was changed."
    ),
    Bar.UNKNOWN: "I couldn't check with Slack who you are just now, so nothing was decided. Try again in a minute.",
}


async def may_not_decide(
    settings: Settings,
    workflow_id: str,
    user: str,
    people: People | None = None,
    user_team: str | None = None,
    on: str = ON_DRAFT,
) -> str | None:
    """A fast refusal for someone who is neither the asker nor an approver, or an asker who is a guest or
    external (``people``; ``user_team``: their own team, where the request names it); None when they may
    (or when the workflow id does not say who asked: then the update validator decides). ``on``: what
    they would decide, as ON_DRAFT and ON_PLAN say it."""
    if user in settings.research_approvers:
        return None
    address = parse_workflow_id(workflow_id)
    if address is not None and user != address.user_id:
        log.info("decision.refused_up_front", workflow_id=workflow_id, user=user, on=on)
        return (
            f"Only {mention(address.user_id)}, who asked, and the configured approvers can {on}. "
            "Nothing was changed: it is still waiting for them."
        )
    return await visitor_refusal(settings, workflow_id, user, people, user_team)


async def clicker_may_not(context: Mapping[str, Any], body: Mapping[str, Any], workflow_id: str, on: str) -> str | None:
    """may_not_decide for whoever clicked or submitted ``body``, with a listener's context."""
    user, team = field(body, "user", "id"), team_of_clicker(body)
    return await may_not_decide(context["settings"], workflow_id, user, context.get("people"), team, on)


async def visitor_refusal(
    settings: Settings, workflow_id: str, user: str, people: People | None, user_team: str | None
) -> str | None:
    """BARRED's line for a guest or an external user who is not an approver, else None."""
    if people is None or user in settings.research_approvers:
        return None
    if bar := await people.bar(settings, user, user_team, DECIDING_LOOKUP_WAIT):
        log.info("decision.refused_visitor", workflow_id=workflow_id, user=user, bar=bar.value)
        return BARRED[bar]
    return None


def decision_id(*parts: str) -> str:
    """The same id for the same click or the same modal, so an update and its signal fallback apply once."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


async def deliver(temporal: Client, workflow_id: str, answer: GateAnswer) -> AnswerOutcome:
    """send_answer, bounded by DELIVER_WAIT; Temporal being unreachable is an answer too."""
    bound = log.bind(workflow_id=workflow_id, user=answer.answered_by, what=answer.NOUN)
    try:
        outcome = await asyncio.wait_for(
            send_answer(temporal, workflow_id, answer, wait=UPDATE_WAIT), DELIVER_WAIT.total_seconds()
        )
    except Exception:
        bound.exception("decision.delivery_failed")
        return AnswerOutcome(accepted=False, queued=False, message=UNAVAILABLE.format(noun=answer.NOUN))
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


def plan_of(message: dict[str, Any]) -> list[str]:
    """The sub-questions a plan message shows (its numbered lines), as plain text: the Edit plan modal
    opens with them, within the click's 3 seconds, without asking Temporal."""
    found: list[str] = []
    for block in message.get("blocks") or []:
        if not isinstance(block, dict) or block.get("type") != "section":
            continue
        text = block.get("text")
        for line in str(text.get("text", "") if isinstance(text, dict) else "").splitlines():
            if match := _NUMBERED.match(line):
                found.append(unescape(match.group(2)))
    return found


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
