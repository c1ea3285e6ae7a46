"""The days-long wait for a person, on the time-skipping test server."""

from __future__ import annotations

from datetime import timedelta

from temporalio.testing import WorkflowEnvironment

from tests.fakes.activities import FakeActivities
from tests.workflows.helpers import decision, fake_worker, new_queue, start_run
from workflows.activity_io import ProgressKind
from workflows.models import DecisionKind, Outcome
from workflows.research import ResearchWorkflow


async def test_an_unanswered_draft_gets_a_reminder_then_expires(time_env: WorkflowEnvironment) -> None:
    fakes, queue = FakeActivities(), new_queue()
    async with fake_worker(time_env.client, queue, fakes):
        handle = await start_run(time_env.client, queue)
        result = await handle.result()  # time skips through the 24h reminder and the 7d expiry

    kinds = fakes.progress_kinds()
    assert kinds.count(ProgressKind.REMINDER.value) == 1
    assert kinds.index("reminder") > kinds.index("draft")
    assert result.outcome == Outcome.EXPIRED and result.error == "no decision in time"
    assert result.finished_at - result.started_at >= timedelta(days=7)
    assert fakes.stored[0].result.outcome == Outcome.EXPIRED


async def test_a_decision_after_the_reminder_still_counts(time_env: WorkflowEnvironment) -> None:
    fakes, queue = FakeActivities(), new_queue()
    async with fake_worker(time_env.client, queue, fakes):
        handle = await start_run(
            time_env.client, queue, remind_after=timedelta(hours=1), expire_after=timedelta(days=2)
        )
        await time_env.sleep(timedelta(hours=5))
        await handle.signal(ResearchWorkflow.decide_signal, decision(DecisionKind.APPROVE))
        result = await handle.result()

    assert "reminder" in fakes.progress_kinds()
    assert result.outcome == Outcome.APPROVED
    # The signal came after the 1 h reminder and long before the 2-day expiry.
    assert timedelta(hours=1) < result.finished_at - result.started_at < timedelta(days=2)
