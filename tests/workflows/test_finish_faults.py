"""Faults while a run finishes: whatever happens, Slack, the archive and the outcome agree, and a
decision sent twice over the continue-as-new hand-over is applied once."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.testing import WorkflowEnvironment

from tests.fakes.activities import FakeActivities
from tests.workflows.helpers import decision, fake_worker, new_queue, start_run, wait_for_stage
from workflows.models import DecisionKind, Outcome, Stage
from workflows.research import ResearchWorkflow

APPROVE, REVISE = DecisionKind.APPROVE, DecisionKind.REVISE


def finished(fakes: FakeActivities) -> list[Outcome]:
    return [p.result.outcome for p in fakes.progress if p.kind.value == "finished" and p.result]


async def test_a_cancel_while_the_run_is_archived_does_not_change_its_outcome(env: WorkflowEnvironment) -> None:
    fakes, queue = FakeActivities(), new_queue()
    fakes.store_gate = asyncio.Event()
    async with fake_worker(env.client, queue, fakes):
        handle = await start_run(env.client, queue)
        await wait_for_stage(handle, Stage.AWAITING_DECISION)
        await handle.execute_update(ResearchWorkflow.decide, decision(APPROVE))
        await fakes.store_started.wait()
        await handle.cancel()  # the report is out, the archive is being written
        await asyncio.sleep(0.2)
        fakes.store_gate.set()
        result = await handle.result()

    assert result.outcome == Outcome.APPROVED
    assert [s.result.outcome for s in fakes.stored] == [Outcome.APPROVED]
    assert finished(fakes) == [Outcome.APPROVED]


async def test_finalize_failing_after_an_approval_is_one_failure_everywhere(env: WorkflowEnvironment) -> None:
    fakes, queue = FakeActivities(), new_queue()
    fakes.finalize_error = "the model is gone"
    async with fake_worker(env.client, queue, fakes):
        handle = await start_run(env.client, queue)
        await wait_for_stage(handle, Stage.AWAITING_DECISION)
        await handle.execute_update(ResearchWorkflow.decide, decision(APPROVE, feedback="shorter"))
        with pytest.raises(WorkflowFailureError) as failure:
            await handle.result()

    assert "the model is gone" in str(failure.value.cause)
    assert [s.result.outcome for s in fakes.stored] == [Outcome.FAILED]
    assert finished(fakes) == [Outcome.FAILED]
    assert fakes.stored[0].result.error and "the model is gone" in fakes.stored[0].result.error


@pytest.mark.parametrize("delay", [0.0, 0.02, 0.1])
async def test_an_update_and_its_signal_over_the_hand_over_apply_once(env: WorkflowEnvironment, delay: float) -> None:
    fakes, queue = FakeActivities(), new_queue()
    async with fake_worker(env.client, queue, fakes):
        handle = await start_run(env.client, queue, history_limit=50)
        await wait_for_stage(handle, Stage.AWAITING_DECISION)
        await handle.execute_update(ResearchWorkflow.decide, decision(REVISE, feedback="add critics"))
        await wait_for_stage(handle, Stage.AWAITING_DECISION, draft_round=2)
        await asyncio.sleep(delay)  # somewhere around the continue-as-new
        approve = decision(APPROVE, draft_round=2).model_copy(update={"decision_id": uuid.uuid4().hex})
        latest = env.client.get_workflow_handle_for(ResearchWorkflow.run, handle.id)
        sent = await asyncio.gather(
            latest.signal(ResearchWorkflow.decide_signal, approve),
            latest.execute_update(ResearchWorkflow.decide, approve),
            return_exceptions=True,
        )
        result = await latest.result()

    assert result.outcome == Outcome.APPROVED
    applied = [d for d in result.decisions if d.kind is APPROVE and d.applied]
    assert len(applied) == 1, (sent, result.decisions)
    assert [s.result.outcome for s in fakes.stored] == [Outcome.APPROVED]
    assert finished(fakes) == [Outcome.APPROVED]
