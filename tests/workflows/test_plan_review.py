"""Reviewing the plan before searching (ResearchRequest.review_plan): the `review_plan` update, its
validator and its signal fallback, against the dev server; its expiry on the time-skipping server."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from tests.fakes.activities import FakeActivities
from tests.workflows.helpers import APPROVER, REQUESTER, decision, fake_worker, new_queue, start_run, wait_for_stage
from workflows.activity_io import ProgressKind
from workflows.models import DecisionKind, Outcome, PlanReviewInput, PlanReviewKind, Stage
from workflows.research import PLAN_NOT_REVIEWED, ResearchWorkflow

QUESTION = "How does Temporal make workflows durable?"
PLANNED = [f"{QUESTION} basics", f"{QUESTION} trade-offs"]


def review(
    kind: PlanReviewKind, by: str = REQUESTER, sub_questions: list[str] | None = None, plan_round: int = 1
) -> PlanReviewInput:
    return PlanReviewInput(
        kind=kind,
        plan_round=plan_round,
        reviewed_by=by,
        sub_questions=sub_questions or [],
        review_id=uuid.uuid4().hex,
    )


async def test_search_this_goes_on_with_the_plan_only_once_reviewed(env: WorkflowEnvironment) -> None:
    fakes, queue = FakeActivities(), new_queue()
    async with fake_worker(env.client, queue, fakes):
        handle = await start_run(env.client, queue, review_plan=True)
        waiting = await wait_for_stage(handle, Stage.AWAITING_PLAN_REVIEW)
        assert waiting.sub_questions == PLANNED and waiting.plan_review_round == 1
        assert fakes.calls["search"] == 0, "nothing is searched before the plan is reviewed"
        for _ in range(200):  # the plan's report runs just after the stage is set: wait for it
            if plans := [p for p in fakes.progress if p.kind is ProgressKind.PLAN]:
                break
            await asyncio.sleep(0.05)
        [plan] = plans
        assert plan.status.stage is Stage.AWAITING_PLAN_REVIEW, "the plan is shown with its buttons"

        receipt = await handle.execute_update(ResearchWorkflow.review_plan, review(PlanReviewKind.SEARCH, APPROVER))
        assert receipt.accepted and receipt.message == "Searching as planned"
        status = await wait_for_stage(handle, Stage.AWAITING_DECISION)
        await handle.execute_update(ResearchWorkflow.decide, decision(DecisionKind.REJECT))
        result = await handle.result()

    assert sorted(fakes.searched) == sorted(PLANNED)
    assert status.sub_questions == PLANNED
    [record] = status.plan_reviews
    assert (record.kind, record.reviewed_by, record.via, record.applied) == (
        PlanReviewKind.SEARCH,
        APPROVER,
        "update",
        True,
    )
    assert "plan_reviewed" in fakes.progress_kinds()
    assert result.outcome is Outcome.REJECTED


async def test_edit_plan_replaces_the_sub_questions_that_are_searched(env: WorkflowEnvironment) -> None:
    fakes, queue = FakeActivities(), new_queue()
    edited = ["What is a retry policy?", "   ", "How do heartbeats work?"]
    async with fake_worker(env.client, queue, fakes):
        handle = await start_run(env.client, queue, review_plan=True)
        await wait_for_stage(handle, Stage.AWAITING_PLAN_REVIEW)
        receipt = await handle.execute_update(
            ResearchWorkflow.review_plan, review(PlanReviewKind.EDIT, REQUESTER, edited)
        )
        assert "2 sub-questions" in receipt.message
        status = await wait_for_stage(handle, Stage.AWAITING_DECISION)
        await handle.execute_update(ResearchWorkflow.decide, decision(DecisionKind.APPROVE))
        result = await handle.result()

    assert sorted(fakes.searched) == ["How do heartbeats work?", "What is a retry policy?"]
    assert status.sub_questions == ["What is a retry policy?", "How do heartbeats work?"]
    assert {s.sub_question for s in result.sources} <= {1, 2}
    [reviewed] = [p for p in fakes.progress if p.kind is ProgressKind.PLAN_REVIEWED]
    assert reviewed.status.sub_questions == status.sub_questions and reviewed.status.plan_reviews[0].applied


@pytest.mark.parametrize(
    ("make_review", "refusal"),
    [
        (lambda: review(PlanReviewKind.SEARCH, "U_STRANGER"), "U_STRANGER may not review this plan"),
        (lambda: review(PlanReviewKind.SEARCH, plan_round=2), "for the plan of round 2"),
        (lambda: review(PlanReviewKind.EDIT, sub_questions=[" "]), "needs at least one sub-question"),
        (lambda: review(PlanReviewKind.EDIT, sub_questions=[f"q{n}" for n in range(9)]), "at most 8 sub-questions"),
        (lambda: review(PlanReviewKind.EDIT, sub_questions=["x" * 301]), "keep each under 300"),
    ],
)
async def test_the_validator_refuses_with_a_reason_and_the_plan_keeps_waiting(
    env: WorkflowEnvironment, make_review, refusal
) -> None:
    fakes, queue = FakeActivities(), new_queue()
    async with fake_worker(env.client, queue, fakes):
        handle = await start_run(env.client, queue, review_plan=True)
        await wait_for_stage(handle, Stage.AWAITING_PLAN_REVIEW)
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update(ResearchWorkflow.review_plan, make_review())
        assert refusal in str(refused.value.cause)
        status = await handle.query(ResearchWorkflow.status)
        assert status.stage is Stage.AWAITING_PLAN_REVIEW and status.plan_reviews == []
        assert fakes.calls["search"] == 0
        await handle.terminate("test over")


async def test_a_plan_is_reviewed_once_and_not_before_it_is_shown(env: WorkflowEnvironment) -> None:
    fakes, queue = FakeActivities(), new_queue()
    async with fake_worker(env.client, queue, fakes):
        handle = await start_run(env.client, queue)  # no review asked for
        await wait_for_stage(handle, Stage.AWAITING_DECISION)
        with pytest.raises(WorkflowUpdateFailedError) as none:
            await handle.execute_update(ResearchWorkflow.review_plan, review(PlanReviewKind.SEARCH))
        assert "no plan is awaiting review (the run is awaiting decision)" in str(none.value.cause)
        await handle.terminate("test over")

        reviewed = await start_run(env.client, queue, review_plan=True)
        await wait_for_stage(reviewed, Stage.AWAITING_PLAN_REVIEW)
        await reviewed.execute_update(ResearchWorkflow.review_plan, review(PlanReviewKind.SEARCH))
        with pytest.raises(WorkflowUpdateFailedError) as again:
            await reviewed.execute_update(ResearchWorkflow.review_plan, review(PlanReviewKind.EDIT, APPROVER, ["x?"]))
        assert "this plan has already been reviewed" in str(again.value.cause)
        await wait_for_stage(reviewed, Stage.AWAITING_DECISION)
        assert sorted(fakes.searched[-2:]) == sorted(PLANNED)
        await reviewed.terminate("test over")


async def test_a_signalled_review_waits_for_a_worker_and_is_applied_once(env: WorkflowEnvironment) -> None:
    fakes, queue = FakeActivities(), new_queue()
    async with fake_worker(env.client, queue, fakes):
        handle = await start_run(env.client, queue, review_plan=True)
        await wait_for_stage(handle, Stage.AWAITING_PLAN_REVIEW)
    # No worker now: the bot's update would time out, and it falls back on the signal.
    stranger = review(PlanReviewKind.SEARCH, "U_STRANGER")
    click = review(PlanReviewKind.EDIT, APPROVER, ["What is event sourcing?"])
    await handle.signal(ResearchWorkflow.review_plan_signal, stranger)
    await handle.signal(ResearchWorkflow.review_plan_signal, click)
    await handle.signal(ResearchWorkflow.review_plan_signal, click)  # the same click delivered twice
    async with fake_worker(env.client, queue, fakes):
        status = await wait_for_stage(handle, Stage.AWAITING_DECISION)
        await handle.execute_update(ResearchWorkflow.decide, decision(DecisionKind.REJECT))
        await handle.result()

    assert fakes.searched == ["What is event sourcing?"]
    applied = [r for r in status.plan_reviews if r.applied]
    assert [(r.reviewed_by, r.via) for r in applied] == [(APPROVER, "signal")]
    [refused] = [r for r in status.plan_reviews if not r.applied]
    assert refused.reviewed_by == "U_STRANGER" and "may not review" in (refused.reason or "")
    told = [p.refused_review for p in fakes.progress if p.kind is ProgressKind.REFUSED]
    assert [r.reviewed_by for r in told if r] == ["U_STRANGER"], "the stranger hears why; the duplicate is silent"


async def test_an_unreviewed_plan_expires_like_an_undecided_draft(time_env: WorkflowEnvironment) -> None:
    fakes, queue = FakeActivities(), new_queue()
    async with fake_worker(time_env.client, queue, fakes):
        handle = await start_run(time_env.client, queue, review_plan=True, expire_after=timedelta(days=2))
        result = await handle.result()  # time skips through the 2-day wait

    assert result.outcome is Outcome.EXPIRED and result.error == PLAN_NOT_REVIEWED
    assert result.finished_at - result.started_at >= timedelta(days=2)
    assert fakes.calls["search"] == 0 and fakes.calls["synthesize_draft"] == 0
    assert fakes.stored[0].result.outcome is Outcome.EXPIRED
