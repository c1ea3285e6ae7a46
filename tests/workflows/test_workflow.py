"""ResearchWorkflow's control flow against the real Temporal dev server, with fake activities."""

from __future__ import annotations

import asyncio

import pytest
from temporalio.client import WorkflowFailureError, WorkflowUpdateFailedError
from temporalio.exceptions import CancelledError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from tests.fakes.activities import FakeActivities
from tests.workflows.helpers import APPROVER, REQUESTER, decision, fake_worker, new_queue, start_run, wait_for_stage
from workflows.activity_io import ProgressKind
from workflows.models import DecisionKind, Outcome, Stage
from workflows.research import ResearchWorkflow

APPROVE, REVISE, REJECT = DecisionKind.APPROVE, DecisionKind.REVISE, DecisionKind.REJECT


async def test_approve_returns_the_draft_with_sources_and_stores_it(env: WorkflowEnvironment) -> None:
    fakes, queue = FakeActivities(), new_queue()
    async with fake_worker(env.client, queue, fakes):
        handle = await start_run(env.client, queue)
        status = await wait_for_stage(handle, Stage.AWAITING_DECISION)
        assert status.draft and "[1]" in status.draft.text and not status.draft.violations
        receipt = await handle.execute_update(ResearchWorkflow.decide, decision(APPROVE, by=APPROVER))
        result = await handle.result()

    assert receipt.accepted
    assert result.outcome == Outcome.APPROVED
    assert result.answer == status.draft.text
    # Two sub-questions share one URL: three distinct pages, read once each.
    assert [s.url for s in result.sources] == [
        "https://example.org/How-does-Temporal-make-workflows-durable?-basics",
        "https://example.org/How-does-Temporal-make-workflows-durable?-trade-offs",
        "https://example.org/shared",
    ]
    # Each source knows the sub-question whose search found it (the shared page: whichever answered first).
    assert [s.sub_question for s in result.sources[:2]] == [1, 2] and result.sources[2].sub_question in (1, 2)
    assert fakes.calls["search"] == 2 and fakes.calls["read_page"] == 3
    assert result.steps_taken == 5
    assert fakes.calls["finalize_answer"] == 0
    assert result.usage.calls == 2 and result.usage.total_tokens == 30
    assert [d.decided_by for d in result.decisions] == [APPROVER]
    assert fakes.stored[0].result == result
    kinds = fakes.progress_kinds()
    assert kinds[0] == "started" and "draft" in kinds
    # The decision is shown while the run finishes, so the two reports may land in either order.
    assert sorted(kinds[-2:]) == ["decision", "finished"]


async def test_approve_with_feedback_rewrites_the_final_answer(env: WorkflowEnvironment) -> None:
    fakes, queue = FakeActivities(), new_queue()
    async with fake_worker(env.client, queue, fakes):
        handle = await start_run(env.client, queue)
        await wait_for_stage(handle, Stage.AWAITING_DECISION)
        await handle.execute_update(ResearchWorkflow.decide, decision(APPROVE, feedback="mention the costs"))
        result = await handle.result()

    assert result.outcome == Outcome.APPROVED
    assert fakes.calls["finalize_answer"] == 1
    assert result.answer.endswith("Final, taking in: mention the costs")


async def test_revise_then_approve_runs_a_second_round_with_the_feedback(env: WorkflowEnvironment) -> None:
    fakes, queue = FakeActivities(), new_queue()
    async with fake_worker(env.client, queue, fakes):
        handle = await start_run(env.client, queue)
        await wait_for_stage(handle, Stage.AWAITING_DECISION)
        receipt = await handle.execute_update(
            ResearchWorkflow.decide, decision(REVISE, feedback="add what critics say")
        )
        assert "round 2" in receipt.message
        status = await wait_for_stage(handle, Stage.AWAITING_DECISION, draft_round=2)
        await handle.execute_update(ResearchWorkflow.decide, decision(APPROVE, draft_round=2))
        result = await handle.result()

    assert status.draft and status.draft.round == 2 and "Revised for: add what critics say" in status.draft.text
    assert fakes.calls["plan_revision"] == 1 and fakes.calls["search"] == 3
    assert fakes.synth_inputs[-1].feedback == "add what critics say"
    assert fakes.synth_inputs[-1].previous_draft is not None
    assert result.revision_rounds == 1 and result.outcome == Outcome.APPROVED
    assert len(result.sources) == 4


async def test_revise_without_new_questions_rewrites_without_searching(env: WorkflowEnvironment) -> None:
    fakes, queue = FakeActivities(), new_queue()
    fakes.revision_questions = []
    async with fake_worker(env.client, queue, fakes):
        handle = await start_run(env.client, queue)
        await wait_for_stage(handle, Stage.AWAITING_DECISION)
        await handle.execute_update(ResearchWorkflow.decide, decision(REVISE, feedback="shorter please"))
        await wait_for_stage(handle, Stage.AWAITING_DECISION, draft_round=2)
        await handle.execute_update(ResearchWorkflow.decide, decision(REJECT, draft_round=2))
        result = await handle.result()

    assert fakes.calls["search"] == 2 and fakes.calls["synthesize_draft"] == 2
    assert result.outcome == Outcome.REJECTED and result.answer == ""
    assert fakes.stored[0].result.outcome == Outcome.REJECTED


@pytest.mark.parametrize(
    ("make_decision", "refusal"),
    [
        (lambda: decision(APPROVE, draft_round=2), "for draft round 2, but the current draft is round 1"),
        (lambda: decision(APPROVE, by="U_STRANGER"), "U_STRANGER may not decide on this run"),
        (lambda: decision(REVISE), "a revision needs feedback"),
        (lambda: decision(REVISE, feedback="   "), "a revision needs feedback"),
    ],
)
async def test_validator_refuses_with_a_reason_and_the_run_keeps_waiting(
    env: WorkflowEnvironment, make_decision, refusal
) -> None:
    fakes, queue = FakeActivities(), new_queue()
    async with fake_worker(env.client, queue, fakes):
        handle = await start_run(env.client, queue)
        await wait_for_stage(handle, Stage.AWAITING_DECISION)
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update(ResearchWorkflow.decide, make_decision())
        assert refusal in str(refused.value.cause)
        status = await handle.query(ResearchWorkflow.status)
        assert status.stage == Stage.AWAITING_DECISION and status.decisions == []
        await handle.execute_update(ResearchWorkflow.decide, decision(REJECT))
        assert (await handle.result()).outcome == Outcome.REJECTED


async def test_no_decision_before_a_draft_or_after_the_end(env: WorkflowEnvironment) -> None:
    fakes, queue = FakeActivities(), new_queue()
    fakes.synth_gate = asyncio.Event()
    async with fake_worker(env.client, queue, fakes):
        handle = await start_run(env.client, queue)
        await fakes.synth_started.wait()
        with pytest.raises(WorkflowUpdateFailedError) as early:
            await handle.execute_update(ResearchWorkflow.decide, decision(APPROVE))
        assert "no draft is awaiting a decision (the run is writing)" in str(early.value.cause)
        fakes.synth_gate.set()
        await wait_for_stage(handle, Stage.AWAITING_DECISION)
        first = decision(APPROVE)
        await handle.execute_update(ResearchWorkflow.decide, first)
        await handle.result()
        # A second click after the end: the workflow is closed, so the update cannot be delivered at all.
        with pytest.raises(RPCError):
            await handle.execute_update(ResearchWorkflow.decide, decision(APPROVE))


async def test_revision_rounds_are_capped(env: WorkflowEnvironment) -> None:
    fakes, queue = FakeActivities(), new_queue()
    async with fake_worker(env.client, queue, fakes):
        handle = await start_run(env.client, queue, max_revision_rounds=1)
        await wait_for_stage(handle, Stage.AWAITING_DECISION)
        await handle.execute_update(ResearchWorkflow.decide, decision(REVISE, feedback="more depth"))
        await wait_for_stage(handle, Stage.AWAITING_DECISION, draft_round=2)
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update(ResearchWorkflow.decide, decision(REVISE, draft_round=2, feedback="again"))
        assert "used all 1 revision rounds" in str(refused.value.cause)
        await handle.execute_update(ResearchWorkflow.decide, decision(APPROVE, draft_round=2))
        assert (await handle.result()).revision_rounds == 1


async def test_guardrails_send_bad_drafts_back_then_accept_a_fixed_one(env: WorkflowEnvironment) -> None:
    fakes, queue = FakeActivities(), new_queue()
    fakes.drafts = [
        "Durable, as shown in [7]. Ping <!channel> now.",
        "Still uncited and leaking sk-abcdefghijklmnopqrstuvwxyz012345.",
        "Durable state [1], retried activities [2]; <@U999> says hi.",
    ]
    async with fake_worker(env.client, queue, fakes):
        handle = await start_run(env.client, queue)
        status = await wait_for_stage(handle, Stage.AWAITING_DECISION)
        await handle.execute_update(ResearchWorkflow.decide, decision(APPROVE))
        await handle.result()

    assert fakes.calls["synthesize_draft"] == 3
    assert any("[7] match no source" in v for v in fakes.synth_inputs[1].violations)
    assert any("credential" in v for v in fakes.synth_inputs[2].violations)
    assert status.draft and status.draft.violations == []
    assert "<@U999>" not in status.draft.text and "@\u200bU999" in status.draft.text


async def test_guardrails_give_up_after_two_retries_and_refuse_approval(env: WorkflowEnvironment) -> None:
    fakes, queue = FakeActivities(), new_queue()
    fakes.drafts = ["No citations here, and <!here> too, but long enough to count."]
    async with fake_worker(env.client, queue, fakes):
        handle = await start_run(env.client, queue)
        status = await wait_for_stage(handle, Stage.AWAITING_DECISION)
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await handle.execute_update(ResearchWorkflow.decide, decision(APPROVE))
        await handle.execute_update(ResearchWorkflow.decide, decision(REJECT))
        await handle.result()

    assert fakes.calls["synthesize_draft"] == 3
    assert status.draft and status.draft.violations == [
        "the draft cites no source; support its claims with [1], [2], [3]"
    ]
    assert "<!here>" not in status.draft.text
    assert "failed its checks" in str(refused.value.cause)


async def test_a_signalled_decision_waits_for_a_worker_and_is_applied_once(env: WorkflowEnvironment) -> None:
    fakes, queue = FakeActivities(), new_queue()
    async with fake_worker(env.client, queue, fakes):
        handle = await start_run(env.client, queue)
        await wait_for_stage(handle, Stage.AWAITING_DECISION)
    # No worker now: an update would time out, a signal is stored by the server.
    click = decision(APPROVE, feedback="cite the docs")
    await handle.signal(ResearchWorkflow.decide_signal, click)
    await handle.signal(ResearchWorkflow.decide_signal, click)  # the same click delivered twice
    async with fake_worker(env.client, queue, fakes):
        result = await handle.result()

    assert result.outcome == Outcome.APPROVED and result.answer.endswith("cite the docs")
    applied = [d for d in result.decisions if d.applied]
    assert len(applied) == 1 and applied[0].via == "signal"
    assert fakes.calls["finalize_answer"] == 1


async def test_an_invalid_signal_is_recorded_and_ignored(env: WorkflowEnvironment) -> None:
    fakes, queue = FakeActivities(), new_queue()
    async with fake_worker(env.client, queue, fakes):
        handle = await start_run(env.client, queue)
        await wait_for_stage(handle, Stage.AWAITING_DECISION)
        await handle.signal(ResearchWorkflow.decide_signal, decision(APPROVE, by="U_STRANGER"))
        await handle.signal(ResearchWorkflow.decide_signal, decision(REJECT, by=REQUESTER))
        result = await handle.result()

    assert result.outcome == Outcome.REJECTED
    ignored = [d for d in result.decisions if not d.applied]
    assert len(ignored) == 1 and "may not decide" in (ignored[0].reason or "")
    # The stranger was told "queued" when no worker answered; the run tells them it was refused.
    refused = [p for p in fakes.progress if p.kind is ProgressKind.REFUSED]
    assert len(refused) == 1 and refused[0].refused and refused[0].refused.decided_by == "U_STRANGER"


async def test_cancel_stops_the_running_activity_and_ends_cancelled(env: WorkflowEnvironment) -> None:
    fakes, queue = FakeActivities(), new_queue()
    fakes.synth_gate = asyncio.Event()
    async with fake_worker(env.client, queue, fakes):
        handle = await start_run(env.client, queue)
        await fakes.synth_started.wait()
        await handle.cancel()
        with pytest.raises(WorkflowFailureError) as failure:
            await handle.result()

    assert isinstance(failure.value.cause, CancelledError)
    assert fakes.cancelled == ["synthesize_draft"]
    assert fakes.stored[0].result.outcome == Outcome.CANCELLED
    assert fakes.progress[-1].result and fakes.progress[-1].result.outcome == Outcome.CANCELLED
