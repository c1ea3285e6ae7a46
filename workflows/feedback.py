"""Recording a 👍 or 👎 on a published report: one short workflow per click.

The bot starts it before it acks the click, so an acknowledged click is durable; its id comes from the
click, so a click Slack delivers twice is recorded once. The research run has ended by then, so the
click cannot go to it; the archive is written by an activity, as every side effect is.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows import calls
    from workflows.models import AnswerFeedback

__all__ = ["AnswerFeedbackWorkflow", "feedback_workflow_id"]


def feedback_workflow_id(feedback: AnswerFeedback) -> str:
    return f"feedback-{feedback.feedback_id}"


@workflow.defn
class AnswerFeedbackWorkflow:
    @workflow.run
    async def run(self, feedback: AnswerFeedback) -> bool:
        """True if this click was new to the archive. A database outage is waited out, as for a run's
        archive (the click was acknowledged); data the database refuses fails at once."""
        return await calls.record_feedback(feedback)
