"""The 👍 / 👎 feedback buttons under a published report: record the click, then ack, then thank.

The button's value names the run and the rating (slack_ui/ids.py); one that is not ours is refused
with a 400 (bot/app.py). Anyone who can see the report may rate it; each click is kept.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext, AsyncRespond

from bot.decisions import decision_id
from bot.feedback import record_feedback
from bot.under_way import after_ack
from slack_ui.ids import decode_feedback_value, field
from slack_ui.thread import FEEDBACK_ACTION
from workflows.models import AnswerFeedback

__all__ = ["rate_report", "register"]


def register(app: AsyncApp) -> None:
    app.action(FEEDBACK_ACTION)(rate_report)


async def rate_report(
    ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond, context: AsyncBoltContext
) -> None:
    workflow_id, rating = decode_feedback_value(action.get("value"))
    user = field(body, "user", "id")
    click = decision_id("feedback", workflow_id, user, str(action.get("action_ts", "")), rating.value)
    feedback = AnswerFeedback(
        feedback_id=click, workflow_id=workflow_id, rating=rating, given_by=user, given_at=datetime.now(UTC)
    )
    said = await record_feedback(context["temporal"], context["settings"], feedback)
    await ack()
    after_ack(context, respond(text=said, response_type="ephemeral", replace_original=False), "the feedback's thanks")
