"""A 👍 or 👎 on a published report, recorded before Slack gets its answer.

The click starts a short workflow (workflows/feedback.py) whose id comes from the click, so an
acknowledged click is durable and one delivered twice is recorded once. The start gets RECORD_WAIT,
inside Slack's 3 seconds; past that the person is told their rating may not have been kept.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import structlog
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy

from core.settings import Settings
from workflows.feedback import AnswerFeedbackWorkflow, feedback_workflow_id
from workflows.models import AnswerFeedback, Rating

__all__ = ["RECORD_WAIT", "record_feedback"]

log = structlog.get_logger(__name__)

RECORD_WAIT = timedelta(seconds=2)
THANKS = {
    Rating.POSITIVE: "Thanks: your 👍 on this report is recorded.",
    Rating.NEGATIVE: "Thanks: your 👎 on this report is recorded. A revision can be asked with `/research`.",
}
NOT_RECORDED = "Sorry, the research service did not answer in time, so your rating may not be recorded. Try again."


async def record_feedback(temporal: Client, settings: Settings, feedback: AnswerFeedback) -> str:
    """Start the click's recording; what to tell the person."""
    bound = log.bind(workflow_id=feedback.workflow_id, user=feedback.given_by, rating=feedback.rating.value)
    try:
        await asyncio.wait_for(
            temporal.start_workflow(
                AnswerFeedbackWorkflow.run,
                feedback,
                id=feedback_workflow_id(feedback),
                task_queue=settings.research_task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            ),
            RECORD_WAIT.total_seconds(),
        )
    except Exception as error:
        bound.warning("feedback.not_recorded", error=str(error) or repr(error))
        return NOT_RECORDED
    bound.info("feedback.received")
    return THANKS[feedback.rating]
