"""The messages a run cannot do without, through a long Slack outage and a refusal for good (time-skipping server).

The first post, the draft and the final report are retried until they are posted or the run expires,
not given up after a count: 30 failures (past the 20 attempts of an ordinary progress report, which
with Retry-After waits is 8 to 18 minutes of outage) still end in the post. A draft Slack refuses for
good ends the run, failed, with the reason, instead of leaving it waiting seven days for a click nobody
can make.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio.testing import WorkflowEnvironment

from tests.fakes.activities import FakeActivities
from tests.workflows.helpers import decision, fake_worker, new_queue, start_run, wait_for_stage
from workflows.activity_io import ProgressKind
from workflows.models import DecisionKind, Outcome, Stage

OUTAGE = 30  # failed attempts in a row


async def test_the_first_post_the_draft_and_the_report_outlast_a_long_slack_outage(
    time_env: WorkflowEnvironment,
) -> None:
    fakes, queue = FakeActivities(), new_queue()
    fakes.report_failures = {kind: (OUTAGE, False) for kind in (ProgressKind.STARTED, ProgressKind.DRAFT)}
    async with fake_worker(time_env.client, queue, fakes):
        handle = await start_run(time_env.client, queue)
        await time_env.sleep(timedelta(hours=2))  # the outage, skipped: backoff reaches its 60 s ceiling
        status = await wait_for_stage(handle, Stage.AWAITING_DECISION, tries=600)
        fakes.report_failures[ProgressKind.FINISHED] = (OUTAGE, False)
        await handle.execute_update("decide", decision(DecisionKind.APPROVE, draft_round=status.draft_round))
        result = await handle.result()

    assert result.outcome == Outcome.APPROVED
    for kind in (ProgressKind.STARTED, ProgressKind.DRAFT, ProgressKind.FINISHED):
        assert fakes.calls[f"report_failed_{kind.value}"] == OUTAGE
        assert kind in [p.kind for p in fakes.progress], f"the {kind.value} post was given up"
    assert fakes.stored[0].result.outcome == Outcome.APPROVED


async def test_a_draft_slack_refuses_for_good_ends_the_run_clearly(time_env: WorkflowEnvironment) -> None:
    fakes, queue = FakeActivities(), new_queue()
    fakes.report_failures = {ProgressKind.DRAFT: (1, True)}
    async with fake_worker(time_env.client, queue, fakes):
        handle = await start_run(time_env.client, queue)
        result = await handle.result()

    assert result.outcome == Outcome.FAILED
    assert (
        result.error
        and result.error.startswith("Slack would not show the draft")
        and "channel_not_found" in result.error
    )
    assert ProgressKind.REMINDER not in [p.kind for p in fakes.progress]  # no seven-day wait, no reminder
    assert result.finished_at - result.started_at < timedelta(hours=1)
