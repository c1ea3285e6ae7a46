"""Running out of tokens is not a failure: research stops where the budget runs out, and the run writes.

The fake model charges 15 tokens a call (tests/fakes/activities.py); the reserve for writing is a
quarter of the budget and the research loop looks again only below half of it (workflows/budget.py).
"""

from __future__ import annotations

from temporalio.testing import WorkflowEnvironment

from tests.fakes.activities import FakeActivities
from tests.workflows.helpers import APPROVER, decision, fake_worker, new_queue, start_run, wait_for_stage
from workflows.activity_io import ProgressKind
from workflows.models import DecisionKind, Outcome, Stage
from workflows.research import FINAL_FALLBACK_NOTE, ResearchWorkflow
from workflows.steps import NOTHING_TO_CITE

QUESTION = "How does Temporal make workflows durable?"


async def test_a_budget_spent_by_the_plan_declines_instead_of_failing(env: WorkflowEnvironment) -> None:
    fakes, queue = FakeActivities(), new_queue()
    async with fake_worker(env.client, queue, fakes):
        # The plan's 15 tokens spend the whole budget of 10: no search, no page, nothing to write from.
        handle = await start_run(env.client, queue, question=QUESTION, budget={"max_total_tokens": 10})
        status = await wait_for_stage(handle, Stage.AWAITING_DECISION)
        await handle.execute_update(ResearchWorkflow.decide, decision(DecisionKind.REJECT, by=APPROVER))
        result = await handle.result()

    assert status.budget_stopped == "after planning"
    assert fakes.calls["search"] == 0 and fakes.calls["read_page"] == 0
    # Nothing was read: the draft says there is nothing to cite, without asking the model to write.
    assert status.draft is not None and status.draft.violations == [NOTHING_TO_CITE]
    assert status.draft.check is not None and status.draft.check.declined
    assert fakes.calls["synthesize_draft"] == 0
    assert status.draft.budget_stopped == "after planning"
    assert status.draft.ledger is not None and status.draft.ledger.total_tokens == 15
    assert result.outcome is Outcome.REJECTED and result.error is None
    assert fakes.stored[0].result.budget_stopped == "after planning"
    # The progress said why the research stopped.
    assert any(p.status.budget_stopped == "after planning" for p in fakes.progress if p.kind is ProgressKind.PROGRESS)


async def test_a_budget_spent_before_the_loop_writes_from_the_first_searches(env: WorkflowEnvironment) -> None:
    fakes, queue = FakeActivities(), new_queue()
    fakes.gap_replies = [["event history size limits"]]
    async with fake_worker(env.client, queue, fakes):
        # Plan: 15 of 25 tokens, under the reserve's line (18.75) but past the loop's (12.5).
        handle = await start_run(env.client, queue, question=QUESTION, budget={"max_total_tokens": 25})
        status = await wait_for_stage(handle, Stage.AWAITING_DECISION)
        approve = decision(DecisionKind.APPROVE, by=APPROVER, feedback="shorter, please")
        await handle.execute_update(ResearchWorkflow.decide, approve)
        result = await handle.result()

    assert fakes.calls["search"] == 2 and fakes.calls["read_page"] == 3 and fakes.calls["reflect_on_gaps"] == 0
    assert status.budget_stopped == "before the research loop"
    # The draft overran the budget (it is never refused), and was checked (then the published text, for
    # the evidence archive).
    assert fakes.calls["synthesize_draft"] == 1 and fakes.calls["verify_citations"] == 2
    assert status.draft is not None and not status.draft.violations and status.usage.total_tokens == 30
    # With the budget spent, the approved draft is published as it is, with a note saying why.
    assert fakes.calls["finalize_answer"] == 0
    assert result.outcome is Outcome.APPROVED and FINAL_FALLBACK_NOTE in result.answer
    assert "token budget" in result.answer


async def test_a_budget_spent_mid_loop_skips_the_follow_up_searches(env: WorkflowEnvironment) -> None:
    fakes, queue = FakeActivities(), new_queue()
    fakes.gap_replies = [["event history size limits"]]
    async with fake_worker(env.client, queue, fakes):
        # Plan and look for gaps: 30 of 40 tokens, all but the reserve; the follow-up is not searched.
        handle = await start_run(env.client, queue, question=QUESTION, budget={"max_total_tokens": 40})
        status = await wait_for_stage(handle, Stage.AWAITING_DECISION)
        await handle.execute_update(ResearchWorkflow.decide, decision(DecisionKind.APPROVE, by=APPROVER))
        result = await handle.result()

    assert fakes.calls["reflect_on_gaps"] == 1 and fakes.calls["search"] == 2 and fakes.calls["read_page"] == 3
    assert status.budget_stopped == "in the research loop" and status.gap_rounds == 0
    assert len(fakes.synth_inputs[0].pages) == 3
    assert result.outcome is Outcome.APPROVED and result.steps_taken == 5
    assert result.ledger is not None and result.ledger.total_tokens == 45 and result.ledger.calls == 3


async def test_a_budget_spent_by_the_draft_marks_instead_of_repairing(env: WorkflowEnvironment) -> None:
    fakes, queue = FakeActivities(), new_queue()
    fakes.drafts = ["Temporal keeps workflow state durable [1]. It was first written in COBOL [2]."]
    fakes.unsupported_words = ["COBOL"]
    async with fake_worker(env.client, queue, fakes):
        # Plan 15, draft 15: the draft spends the budget of 28, so no repair is asked for.
        handle = await start_run(
            env.client, queue, question=QUESTION, research_depth=0, budget={"max_total_tokens": 28}
        )
        status = await wait_for_stage(handle, Stage.AWAITING_DECISION)
        await handle.terminate()

    assert status.budget_stopped is None  # the research was not cut short; only the repair was
    assert fakes.calls["synthesize_draft"] == 1
    assert status.draft is not None and status.draft.check is not None and status.draft.check.marked == 1


async def test_a_revision_past_the_budget_rewrites_without_researching(env: WorkflowEnvironment) -> None:
    fakes, queue = FakeActivities(), new_queue()
    async with fake_worker(env.client, queue, fakes):
        handle = await start_run(env.client, queue, question=QUESTION, budget={"max_total_tokens": 25})
        await wait_for_stage(handle, Stage.AWAITING_DECISION)
        revise = decision(DecisionKind.REVISE, by=APPROVER, feedback="add the critics' view")
        await handle.execute_update(ResearchWorkflow.decide, revise)
        status = await wait_for_stage(handle, Stage.AWAITING_DECISION, draft_round=2)
        await handle.terminate()

    assert fakes.calls["plan_revision"] == 0 and fakes.calls["search"] == 2
    assert status.budget_stopped == "before planning the revision"
    assert fakes.calls["synthesize_draft"] == 2 and fakes.synth_inputs[1].feedback == "add the critics' view"
    assert status.draft is not None and status.draft.round == 2 and not status.draft.violations


async def test_a_run_within_its_budget_says_nothing_about_it(env: WorkflowEnvironment) -> None:
    fakes, queue = FakeActivities(), new_queue()
    async with fake_worker(env.client, queue, fakes):
        handle = await start_run(
            env.client, queue, question=QUESTION, prices={"input_per_mtok": 2, "output_per_mtok": 8}
        )
        status = await wait_for_stage(handle, Stage.AWAITING_DECISION)
        await handle.terminate()

    assert status.budget_stopped is None
    ledger = status.draft.ledger if status.draft else None
    # Plan and draft: 20 tokens in, 10 out.
    assert ledger is not None and (ledger.input_tokens, ledger.output_tokens) == (20, 10)
    assert ledger.cost_usd == (20 * 2 + 10 * 8) / 1_000_000
