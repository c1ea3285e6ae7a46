"""Plan reviews from Slack: who may review, the plan a message shows, and delivering a review inside
Slack's 3 seconds, as bot/decisions.py does for decisions.

The listeners (bot/listeners/plan_review.py) call these; the workflow's `review_plan` validator has the
last word on every review.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import structlog
from temporalio.client import Client

from bot.decisions import DELIVER_WAIT, visitor_refusal
from bot.people import People
from bot.runs import UPDATE_WAIT, DecisionOutcome, send_plan_review
from core.settings import Settings
from slack_ui.ids import parse_workflow_id
from slack_ui.mrkdwn import mention, unescape
from workflows.models import PlanReviewInput

__all__ = ["UNAVAILABLE", "deliver_review", "may_not_review", "plan_of"]

log = structlog.get_logger(__name__)

UNAVAILABLE = (
    "The research service did not answer in time, so your review may not have been recorded. "
    "Check the thread in a minute, and answer again if the plan is still waiting."
)
_NUMBERED = re.compile(r"^(\d{1,2})\. (.+)$")


async def may_not_review(
    settings: Settings, workflow_id: str, user: str, people: People | None = None, user_team: str | None = None
) -> str | None:
    """A fast refusal for someone who is neither the asker nor an approver, or a guest or external asker
    (bot/decisions.py ``visitor_refusal``); None when they may (or when the workflow id does not say who
    asked: then the update validator decides)."""
    address = parse_workflow_id(workflow_id)
    if address is not None and user != address.user_id and user not in settings.research_approvers:
        log.info("plan_review.refused_up_front", workflow_id=workflow_id, user=user)
        return (
            f"Only {mention(address.user_id)}, who asked, and the configured approvers can review this plan. "
            "Nothing was changed: it is still waiting for them."
        )
    return await visitor_refusal(settings, workflow_id, user, people, user_team)


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


async def deliver_review(temporal: Client, workflow_id: str, review: PlanReviewInput) -> DecisionOutcome:
    """send_plan_review, bounded by DELIVER_WAIT; Temporal being unreachable is an answer too."""
    bound = log.bind(workflow_id=workflow_id, user=review.reviewed_by, kind=review.kind.value)
    try:
        outcome = await asyncio.wait_for(
            send_plan_review(temporal, workflow_id, review, wait=UPDATE_WAIT), DELIVER_WAIT.total_seconds()
        )
    except Exception:
        bound.exception("plan_review.delivery_failed")
        return DecisionOutcome(accepted=False, queued=False, message=UNAVAILABLE)
    bound.info("plan_review.sent", accepted=outcome.accepted, queued=outcome.queued, answer=outcome.message)
    return outcome
