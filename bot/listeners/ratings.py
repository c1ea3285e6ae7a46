"""The 👍 / 👎 buttons under a published report: record the click as a rating, then ack, then thank.

The button's value names the run and the rating (slack_ui/ids.py); one that is not ours is refused
with a 400 (bot/app.py). Anyone who can see the report may rate it; each click is kept.

The click starts a short workflow (workflows/ratings.py) whose id comes from the click, so an
acknowledged click is durable and one delivered twice is recorded once. The start gets RECORD_WAIT,
inside Slack's 3 seconds; past that the person is told their rating may not have been kept.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext, AsyncRespond
from temporalio.client import Client

from bot.click_workflows import start_once
from bot.decisions import decision_id
from bot.under_way import after_ack
from core.settings import Settings
from slack_ui.ids import decode_rating_value, field
from slack_ui.thread import RATING_ACTION
from workflows.models import Rating, ReportRating
from workflows.ratings import RatingWorkflow, rating_workflow_id

__all__ = ["RECORD_WAIT", "rate_report", "record_rating", "register"]

log = structlog.get_logger(__name__)

RECORD_WAIT = timedelta(seconds=2)
THANKS = {
    Rating.POSITIVE: "Thanks: your 👍 on this report is recorded.",
    Rating.NEGATIVE: "Thanks: your 👎 on this report is recorded. A revision can be asked with `/research`.",
}
NOT_RECORDED = "Sorry, the research service did not answer in time, so your rating may not be recorded. Try again."


def register(app: AsyncApp) -> None:
    app.action(RATING_ACTION)(rate_report)


async def rate_report(
    ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond, context: AsyncBoltContext
) -> None:
    workflow_id, rating = decode_rating_value(action.get("value"))
    user = field(body, "user", "id")
    # "feedback": the click ids' first prefix, so a click Slack delivers again across a deploy keeps its id.
    click = decision_id("feedback", workflow_id, user, str(action.get("action_ts", "")), rating.value)
    rated = ReportRating(
        feedback_id=click, workflow_id=workflow_id, rating=rating, given_by=user, given_at=datetime.now(UTC)
    )
    said = await record_rating(context["temporal"], context["settings"], rated)
    await ack()
    after_ack(context, respond(text=said, response_type="ephemeral", replace_original=False), "the rating's thanks")


async def record_rating(temporal: Client, settings: Settings, rating: ReportRating) -> str:
    """Start the click's recording; what to tell the person."""
    bound = log.bind(workflow_id=rating.workflow_id, user=rating.given_by, rating=rating.rating.value)
    try:
        await start_once(
            temporal,
            RatingWorkflow.run,
            rating,
            id=rating_workflow_id(rating),
            task_queue=settings.research_task_queue,
            within=RECORD_WAIT,
        )
    except Exception as error:
        bound.warning("rating.not_recorded", error=str(error) or repr(error))
        return NOT_RECORDED
    bound.info("rating.received")
    return THANKS[rating.rating]
