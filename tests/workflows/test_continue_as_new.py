"""Continue-as-new hands the whole run state over, and runs continued by an older worker still load."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from tests.fakes.activities import FakeActivities
from tests.workflows.helpers import REQUESTER, decision, fake_worker, new_queue, start_run, wait_for_stage
from workflows.models import (
    CarriedState,
    DecisionKind,
    DecisionRecord,
    Draft,
    Page,
    ResearchRequest,
    ResearchResult,
    Source,
    Stage,
    TokenUsage,
)
from workflows.research import ResearchWorkflow

APPROVE, REVISE = DecisionKind.APPROVE, DecisionKind.REVISE


async def continued(env: WorkflowEnvironment, handle: WorkflowHandle[ResearchWorkflow, ResearchResult]) -> None:
    latest = env.client.get_workflow_handle_for(ResearchWorkflow.run, handle.id)
    for _ in range(400):
        if (await latest.describe()).run_id != handle.result_run_id:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the run never continued as new")


async def test_a_long_history_continues_as_new_and_keeps_the_run_state(env: WorkflowEnvironment) -> None:
    fakes, queue = FakeActivities(), new_queue()
    async with fake_worker(env.client, queue, fakes):
        handle = await start_run(env.client, queue, history_limit=50)
        await wait_for_stage(handle, Stage.AWAITING_DECISION)
        await handle.execute_update(ResearchWorkflow.decide, decision(REVISE, feedback="add what critics say"))
        second = await wait_for_stage(handle, Stage.AWAITING_DECISION, draft_round=2)
        await continued(env, handle)  # a decision sent before the hand-over would be taken by the first run
        latest = env.client.get_workflow_handle_for(ResearchWorkflow.run, handle.id)  # follows the new run
        after = await latest.query(ResearchWorkflow.status)
        await latest.execute_update(ResearchWorkflow.decide, decision(APPROVE, draft_round=2))
        result = await latest.result()

    assert second.draft and second.draft.round == 2 and len(second.sources) == 4
    # Every field of the status went along, progress counters included: only the stage is the new run's.
    assert after.model_dump(exclude={"stage"}) == second.model_dump(exclude={"stage"})
    assert after.searches_done == after.searches_total == 3 and after.pages_read == after.pages_total == 4
    assert result.revision_rounds == 1
    assert result.started_at < result.decisions[0].at  # carried over from the first run
    assert [d.kind for d in result.decisions] == [REVISE, APPROVE]
    assert fakes.progress_kinds().count("started") == 1 and fakes.calls["store_result"] == 1
    # The Slack messages of the first run are the second run's too: its reports edit them, never repost.
    assert fakes.progress[-1].messages == fakes.progress[-2].messages


async def test_a_run_continued_by_an_older_worker_still_loads(env: WorkflowEnvironment) -> None:
    """Runs in flight that continued as new before RunState existed carry ``CarriedState``: they go on."""
    started = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    sources = [Source(number=1, url="https://example.org/a", title="A")]
    revise = DecisionRecord(kind=REVISE, draft_round=1, decided_by=REQUESTER, feedback="more", at=started, via="update")
    carried = CarriedState(
        started_at=started,
        draft_round=2,
        sub_questions=["a", "b"],
        sources=sources,
        pages=[Page(url="https://example.org/a", title="A", text="Alpha.")],
        draft=Draft(round=2, text="Alpha [1].", sources=sources),
        decisions=[revise],
        usage=TokenUsage(prompt_tokens=30, completion_tokens=20, calls=3),
        steps_taken=4,
        feedback="more",
        messages={"root": "1.000100"},
    )
    request = ResearchRequest(question="What is alpha?", requested_by=REQUESTER, carried=carried)
    fakes, queue = FakeActivities(), new_queue()
    async with fake_worker(env.client, queue, fakes):
        handle = await env.client.start_workflow(
            ResearchWorkflow.run, request, id=f"research-{uuid.uuid4().hex[:12]}", task_queue=queue
        )
        status = await wait_for_stage(handle, Stage.AWAITING_DECISION, draft_round=2)
        await handle.execute_update(ResearchWorkflow.decide, decision(APPROVE, draft_round=2))
        result = await handle.result()

    assert status.thread_ts == "1.000100"
    assert status.sub_questions == ["a", "b"] and status.steps_taken == 4
    assert result.answer == "Alpha [1]." and result.started_at == started
    assert [d.kind for d in result.decisions] == [REVISE, APPROVE]
    assert fakes.calls["plan_research"] == 0 and fakes.progress_kinds().count("started") == 0
