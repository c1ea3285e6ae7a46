"""Recording a 👍 or 👎 on a published report: one short workflow per click.

The bot starts it before it acks the click, so an acknowledged click is durable; its id comes from the
click, so a click Slack delivers twice is recorded once. The research run has ended by then, so the
click cannot go to it; the archive is written by an activity, as every side effect is.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from workflows import RECORD_FEEDBACK
    from workflows.models import AnswerFeedback

__all__ = ["AnswerFeedbackWorkflow", "feedback_workflow_id"]

# A database outage is waited out (the click was acknowledged); data it refuses fails at once.
RECORD_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))


def feedback_workflow_id(feedback: AnswerFeedback) -> str:
    return f"feedback-{feedback.feedback_id}"


@workflow.defn
class AnswerFeedbackWorkflow:
    @workflow.run
    async def run(self, feedback: AnswerFeedback) -> bool:
        """True if this click was new to the archive."""
        return await workflow.execute_activity(
            RECORD_FEEDBACK,
            feedback,
            result_type=bool,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RECORD_RETRY,
        )
