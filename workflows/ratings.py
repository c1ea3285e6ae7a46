"""Recording a 👍 or 👎 on a published report: one short workflow per click.

The bot starts it before it acks the click, so an acknowledged click is durable; its id comes from the
click, so a click Slack delivers twice is recorded once. The research run has ended by then, so the
click cannot go to it; the archive is written by an activity, as every side effect is.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from workflows.calls import RatingCalls
    from workflows.declaring import call
    from workflows.models import ReportRating

__all__ = ["RatingWorkflow", "rating_workflow_id"]


def rating_workflow_id(rating: ReportRating) -> str:
    # "feedback-": the prefix of the clicks already recorded, so a click retried across a deploy is one run.
    return f"feedback-{rating.feedback_id}"


# Registered under its first name: it is the workflow type in history and in the runs already started.
@workflow.defn(name="AnswerFeedbackWorkflow")
class RatingWorkflow:
    @workflow.run
    async def run(self, rating: ReportRating) -> bool:
        """True if this click was new to the archive. A database outage is waited out, as for a run's
        archive (the click was acknowledged); data the database refuses fails at once."""
        return await call(RatingCalls.record_rating, rating)
