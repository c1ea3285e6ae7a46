"""The research loop: after reading, a look for gaps, then a search and a read for them, bounded."""

from __future__ import annotations

import asyncio

from temporalio.testing import WorkflowEnvironment

from tests.fakes.activities import FakeActivities
from tests.workflows.helpers import APPROVER, decision, fake_worker, new_queue, start_run, wait_for_stage
from workflows.activity_io import ProgressKind
from workflows.models import DecisionKind, Outcome, Stage
from workflows.research import ResearchWorkflow

QUESTION = "How does Temporal make workflows durable?"
FIRST_ROUND = {f"{QUESTION} basics", f"{QUESTION} trade-offs"}


async def test_a_gap_sends_the_run_searching_and_reading_again(env: WorkflowEnvironment) -> None:
    fakes, queue = FakeActivities(), new_queue()
    fakes.gap_replies = [["event history size limits"]]
    async with fake_worker(env.client, queue, fakes):
        handle = await start_run(env.client, queue, question=QUESTION)
        status = await wait_for_stage(handle, Stage.AWAITING_DECISION)
        await handle.execute_update(ResearchWorkflow.decide, decision(DecisionKind.APPROVE, by=APPROVER))
        result = await handle.result()

    assert result.outcome is Outcome.APPROVED
    # Plan: two searches, three pages; the look for gaps saw those three, then one more search and page.
    assert set(fakes.searched[:2]) == FIRST_ROUND and fakes.searched[2:] == ["event history size limits"]
    assert fakes.calls["reflect_on_gaps"] == 1 and fakes.calls["read_page"] == 4
    looked = fakes.reflect_inputs[0]
    # Twenty steps: five for the plan's searches and reads, room for the loop's full breadth of three.
    assert len(looked.pages) == 3 and set(looked.sub_questions) == FIRST_ROUND and looked.max_queries == 3
    assert status.gap_rounds == 1 and status.gaps == ["event history size limits"]
    assert status.sub_questions[-1] == "event history size limits"
    assert result.sources[-1].url == "https://example.org/event-history-size-limits"
    assert result.steps_taken == 7
    # The draft is written from every page, the follow-up's too.
    assert len(fakes.synth_inputs[0].pages) == 4
    # The extra round shows in the progress reports.
    shown = [p.status.gaps for p in fakes.progress if p.kind is ProgressKind.PROGRESS]
    assert ["event history size limits"] in shown


async def test_depth_zero_turns_the_loop_off(env: WorkflowEnvironment) -> None:
    fakes, queue = FakeActivities(), new_queue()
    fakes.gap_replies = [["event history size limits"]]
    async with fake_worker(env.client, queue, fakes):
        handle = await start_run(env.client, queue, question=QUESTION, research_depth=0)
        status = await wait_for_stage(handle, Stage.AWAITING_DECISION)
        await handle.terminate()

    assert fakes.calls["reflect_on_gaps"] == 0
    assert fakes.calls["search"] == 2 and fakes.calls["read_page"] == 3
    assert status.gap_rounds == 0 and status.steps_taken == 5


async def test_max_steps_and_breadth_bound_the_loop(env: WorkflowEnvironment) -> None:
    # Deep enough for three looks, but nine steps: five for the plan, then a search and a page a look.
    fakes, queue = FakeActivities(), new_queue()
    fakes.gap_replies = [["gap one", "gap two", "gap three"], ["gap four", "gap five"], ["gap six"]]
    async with fake_worker(env.client, queue, fakes):
        handle = await start_run(
            env.client, queue, question=QUESTION, max_steps=9, research_depth=3, research_breadth=1
        )
        status = await wait_for_stage(handle, Stage.AWAITING_DECISION)
        await handle.terminate()

    assert fakes.calls["reflect_on_gaps"] == 2
    assert [i.max_queries for i in fakes.reflect_inputs] == [1, 1]
    assert fakes.searched[2:] == ["gap one", "gap four"]
    assert status.steps_taken == 9 and status.gap_rounds == 2 and status.gaps == ["gap four"]


async def test_steps_left_bound_how_many_follow_ups_one_look_may_add(env: WorkflowEnvironment) -> None:
    fakes, queue = FakeActivities(), new_queue()
    fakes.gap_replies = [["gap one", "gap two", "gap three"]]
    async with fake_worker(env.client, queue, fakes):
        # Four steps left after the plan's five: two follow-ups and their two pages.
        handle = await start_run(env.client, queue, question=QUESTION, max_steps=9)
        status = await wait_for_stage(handle, Stage.AWAITING_DECISION)
        await handle.terminate()

    assert fakes.reflect_inputs[0].max_queries == 2
    assert set(fakes.searched[2:]) == {"gap one", "gap two"} and len(fakes.searched) == 4
    assert status.steps_taken == 9 and fakes.calls["read_page"] == 5


async def test_the_loop_stops_when_the_look_finds_nothing_new(env: WorkflowEnvironment) -> None:
    fakes, queue = FakeActivities(), new_queue()
    fakes.gap_replies = [[f"{QUESTION} basics"]]  # already searched: not a gap worth a step
    async with fake_worker(env.client, queue, fakes):
        handle = await start_run(env.client, queue, question=QUESTION, max_steps=50, research_depth=3)
        status = await wait_for_stage(handle, Stage.AWAITING_DECISION)
        await handle.terminate()

    assert fakes.calls["reflect_on_gaps"] == 1 and fakes.calls["search"] == 2
    assert status.gap_rounds == 0 and not status.gaps


async def test_the_loop_leaves_half_the_token_budget_for_writing(env: WorkflowEnvironment) -> None:
    fakes, queue = FakeActivities(), new_queue()
    fakes.gap_replies = [["event history size limits"]]
    async with fake_worker(env.client, queue, fakes):
        # The plan costs 15 tokens: past half of 25, so no look for gaps; the draft still fits.
        handle = await start_run(env.client, queue, question=QUESTION, budget={"max_total_tokens": 25})
        status = await wait_for_stage(handle, Stage.AWAITING_DECISION)
        await handle.terminate()

    assert fakes.calls["reflect_on_gaps"] == 0 and status.draft is not None


async def test_a_worker_crash_mid_loop_resumes_without_redoing_finished_steps(env: WorkflowEnvironment) -> None:
    fakes, queue = FakeActivities(), new_queue()
    fakes.gap_replies = [["event history size limits"]]
    fakes.search_gate, fakes.search_gated = asyncio.Event(), "event history"
    async with fake_worker(env.client, queue, fakes):
        handle = await start_run(env.client, queue, question=QUESTION)
        await asyncio.wait_for(fakes.search_started.wait(), 30)
    # The worker is gone with the follow-up search in flight; another one takes the run over.
    fakes.search_gate.set()
    async with fake_worker(env.client, queue, fakes):
        status = await wait_for_stage(handle, Stage.AWAITING_DECISION, tries=600)
        await handle.execute_update(ResearchWorkflow.decide, decision(DecisionKind.APPROVE, by=APPROVER))
        result = await handle.result()

    assert result.outcome is Outcome.APPROVED
    # Everything finished before the crash ran once; only the interrupted search ran again.
    assert fakes.calls["plan_research"] == 1 and fakes.calls["reflect_on_gaps"] == 1
    assert sorted(fakes.searched) == sorted([*FIRST_ROUND, "event history size limits", "event history size limits"])
    assert fakes.calls["read_page"] == 4 and fakes.calls["synthesize_draft"] == 1
    assert status.gap_rounds == 1 and result.steps_taken == 7
