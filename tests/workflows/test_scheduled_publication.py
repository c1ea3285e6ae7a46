"""A schedule's run with --publish (workflows/publication.py): a first draft whose every claim is verified is
published without waiting for a person; anything less waits for review as any run does. Fake activities,
real dev server."""

from __future__ import annotations

import pytest
from temporalio.testing import WorkflowEnvironment

from tests.fakes.activities import FakeActivities
from tests.workflows.helpers import fake_worker, new_queue, start_run, wait_for_stage
from workflows.models import Outcome, ScheduleRef, Stage
from workflows.publication import PUBLISHED_WHY, PUBLISHER

SUPPORTED = "Temporal keeps workflow state durable [1]."
INVENTED = "Temporal was written in COBOL in 1971 [2]."
SCHEDULE = ScheduleRef(schedule_id="schedule-T1-C1-0123456789abcdef")


async def test_a_verified_draft_of_a_publishing_schedule_is_published_without_review(env: WorkflowEnvironment) -> None:
    fakes, queue = FakeActivities(), new_queue()
    fakes.drafts = [SUPPORTED]
    async with fake_worker(env.client, queue, fakes):
        handle = await start_run(env.client, queue, schedule=SCHEDULE, publish_when_verified=True)
        result = await handle.result()
    assert result.outcome is Outcome.APPROVED and result.answer == SUPPORTED
    (published,) = result.decisions
    assert (published.decided_by, published.via, published.feedback, published.draft_round) == (
        PUBLISHER,
        "schedule",
        PUBLISHED_WHY,
        1,
    )
    assert fakes.calls["finalize_answer"] == 0  # the verified draft is the report, as written


@pytest.mark.parametrize(
    ("overrides", "draft"),
    [
        ({"schedule": SCHEDULE, "publish_when_verified": True}, f"{SUPPORTED} {INVENTED}"),  # a claim marked
        ({"schedule": SCHEDULE}, SUPPORTED),  # the schedule's creator did not choose --publish
        ({"publish_when_verified": True}, SUPPORTED),  # not a schedule's run
    ],
)
async def test_anything_less_waits_for_review(
    env: WorkflowEnvironment, overrides: dict[str, object], draft: str
) -> None:
    fakes, queue = FakeActivities(), new_queue()
    fakes.drafts, fakes.unsupported_words = [draft, draft], ["COBOL"]
    async with fake_worker(env.client, queue, fakes):
        handle = await start_run(env.client, queue, **overrides)
        status = await wait_for_stage(handle, Stage.AWAITING_DECISION)
        assert status.decisions == [] and status.draft is not None
        await handle.terminate("the test is over")
