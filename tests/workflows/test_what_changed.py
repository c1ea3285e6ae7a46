"""What changed since a schedule's previous run (workflows/changes.py): a scheduled run compares each draft
with the schedule's previous report before presenting it; a run no schedule started never does. Fake
activities, real dev server."""

from __future__ import annotations

from temporalio.testing import WorkflowEnvironment

from tests.fakes.activities import FakeActivities
from tests.workflows.helpers import decision, fake_worker, new_queue, start_run, wait_for_stage
from workflows.claims import UNVERIFIED_MARK
from workflows.models import DecisionKind, Outcome, ScheduleRef, Stage, WhatChanged
from workflows.research import ResearchWorkflow

SCHEDULE = ScheduleRef(schedule_id="schedule-T1-C1-0123456789abcdef")
SUPPORTED = "Temporal keeps workflow state durable [1]."
INVENTED = "Temporal was written in COBOL in 1971 [2]."
CHANGES = WhatChanged(earlier_runs=2, previous_workflow_id="research-T1-U1-C1-abc-2026-11-30T09:00:00Z")


async def test_a_scheduled_run_shows_what_changed_on_its_checked_draft(env: WorkflowEnvironment) -> None:
    fakes, queue = FakeActivities(), new_queue()
    fakes.drafts, fakes.unsupported_words, fakes.changes = [f"{SUPPORTED} {INVENTED}"] * 2, ["COBOL"], CHANGES
    async with fake_worker(env.client, queue, fakes):
        handle = await start_run(env.client, queue, schedule=SCHEDULE)
        status = await wait_for_stage(handle, Stage.AWAITING_DECISION)
        await handle.terminate("the test is over")
    (compared,) = fakes.compared
    assert compared.workflow_id == handle.id and compared.schedule == SCHEDULE
    # Compared as checked: the unsupported claim carries its mark, so it cannot count as still holding.
    assert UNVERIFIED_MARK in compared.text and compared.sources == status.sources
    assert status.draft is not None and status.draft.changes == CHANGES
    (shown,) = [p for p in fakes.progress if p.kind.value == "draft"]
    assert shown.status.draft is not None and shown.status.draft.changes == CHANGES  # in the draft's report


async def test_a_publishing_schedule_compares_before_it_publishes(env: WorkflowEnvironment) -> None:
    fakes, queue = FakeActivities(), new_queue()
    fakes.drafts, fakes.changes = [SUPPORTED], CHANGES
    async with fake_worker(env.client, queue, fakes):
        handle = await start_run(env.client, queue, schedule=SCHEDULE, publish_when_verified=True)
        result = await handle.result()
    assert result.outcome is Outcome.APPROVED and fakes.calls["compare_with_previous_run"] == 1
    (shown,) = [p for p in fakes.progress if p.kind.value == "draft"]
    assert shown.status.draft is not None and shown.status.draft.changes == CHANGES


async def test_a_revised_draft_is_compared_again(env: WorkflowEnvironment) -> None:
    fakes, queue = FakeActivities(), new_queue()
    fakes.drafts = [SUPPORTED, f"{SUPPORTED} Workers poll task queues [1]."]
    async with fake_worker(env.client, queue, fakes):
        handle = await start_run(env.client, queue, schedule=SCHEDULE)
        await wait_for_stage(handle, Stage.AWAITING_DECISION)
        await handle.execute_update(ResearchWorkflow.decide, decision(DecisionKind.REVISE, feedback="say more"))
        await wait_for_stage(handle, Stage.AWAITING_DECISION, draft_round=2)
        await handle.terminate("the test is over")
    first, revised = fakes.compared  # each draft as the reviewer will see it
    assert first.text == SUPPORTED and revised.text.startswith(fakes.drafts[1])


async def test_a_failed_comparison_says_why_and_the_draft_goes_on(env: WorkflowEnvironment) -> None:
    fakes, queue = FakeActivities(), new_queue()
    fakes.compare_error = "the archive is away"
    async with fake_worker(env.client, queue, fakes):
        handle = await start_run(env.client, queue, schedule=SCHEDULE)
        status = await wait_for_stage(handle, Stage.AWAITING_DECISION)
        await handle.terminate("the test is over")
    assert status.draft is not None and status.draft.changes is not None
    assert status.draft.changes.problem == "the archive is away"


async def test_a_run_no_schedule_started_never_compares(env: WorkflowEnvironment) -> None:
    fakes, queue = FakeActivities(), new_queue()
    async with fake_worker(env.client, queue, fakes):
        handle = await start_run(env.client, queue)
        status = await wait_for_stage(handle, Stage.AWAITING_DECISION)
        await handle.terminate("the test is over")
    assert fakes.calls["compare_with_previous_run"] == 0 and fakes.compared == []
    assert status.draft is not None and status.draft.changes is None
