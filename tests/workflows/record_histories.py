"""Record the committed workflow histories that the replay test guards.

Run after a deliberate change to workflow code:  python -m tests.workflows.record_histories
A change that is not deliberate shows up as a replay failure in tests/test_replay.py.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path

from temporalio.client import Client, WorkflowFailureError, WorkflowHandle

from tests.fakes.activities import FakeActivities
from tests.temporal_servers import start_dev_server
from tests.workflows.helpers import (
    APPROVER,
    REQUESTER,
    decision,
    fake_worker,
    new_queue,
    start_run,
    wait_for_stage,
)
from workflows.activity_io import ProgressKind
from workflows.models import (
    DecisionKind,
    EarlierRun,
    FollowUpInput,
    PlanReviewInput,
    PlanReviewKind,
    Rating,
    ReportRating,
    ResearchRequest,
    ScheduleRef,
    Stage,
)
from workflows.ratings import RatingWorkflow, rating_workflow_id
from workflows.research import ResearchWorkflow

HISTORIES = Path(__file__).parent / "histories"
GIVEN_AT = datetime(2026, 12, 4, 9, 30, tzinfo=UTC)
# Each scenario drives runs on a worker of fake activities; it returns the runs whose histories to keep, by name.
Scenario = Callable[[Client, FakeActivities, str], Awaitable[dict[str, WorkflowHandle]]]


async def approve(client: Client, fakes: FakeActivities, queue: str) -> dict[str, WorkflowHandle]:
    handle = await start_run(client, queue)
    await wait_for_stage(handle, Stage.AWAITING_DECISION)
    await handle.execute_update(ResearchWorkflow.decide, decision(DecisionKind.APPROVE))
    return {"approve": handle}


async def approve_with_feedback(client: Client, fakes: FakeActivities, queue: str) -> dict[str, WorkflowHandle]:
    handle = await start_run(client, queue)
    await wait_for_stage(handle, Stage.AWAITING_DECISION)
    await handle.execute_update(ResearchWorkflow.decide, decision(DecisionKind.APPROVE, feedback="mention costs"))
    return {"approve_with_feedback": handle}


async def revise_then_approve(client: Client, fakes: FakeActivities, queue: str) -> dict[str, WorkflowHandle]:
    handle = await start_run(client, queue)
    await wait_for_stage(handle, Stage.AWAITING_DECISION)
    await handle.execute_update(ResearchWorkflow.decide, decision(DecisionKind.REVISE, feedback="add critics"))
    await wait_for_stage(handle, Stage.AWAITING_DECISION, draft_round=2)
    await handle.signal(ResearchWorkflow.decide_signal, decision(DecisionKind.APPROVE, draft_round=2))
    return {"revise_then_approve": handle}


async def guardrails_then_reject(client: Client, fakes: FakeActivities, queue: str) -> dict[str, WorkflowHandle]:
    fakes.drafts = ["Bad citation [9].", "Better [1] and [2]."]
    handle = await start_run(client, queue)
    await wait_for_stage(handle, Stage.AWAITING_DECISION)
    await handle.execute_update(ResearchWorkflow.decide, decision(DecisionKind.REJECT))
    return {"guardrails_then_reject": handle}


async def continue_as_new(client: Client, fakes: FakeActivities, queue: str) -> dict[str, WorkflowHandle]:
    """A revision past the history limit: the first run hands its RunState to the second."""
    first = await start_run(client, queue, history_limit=50)
    await wait_for_stage(first, Stage.AWAITING_DECISION)
    await first.execute_update(ResearchWorkflow.decide, decision(DecisionKind.REVISE, feedback="add critics"))
    latest = client.get_workflow_handle_for(ResearchWorkflow.run, first.id)
    while (await latest.describe()).run_id == first.result_run_id:
        await asyncio.sleep(0.05)
    second = client.get_workflow_handle(first.id, run_id=(await latest.describe()).run_id)
    await latest.execute_update(ResearchWorkflow.decide, decision(DecisionKind.APPROVE, draft_round=2))
    first_run = client.get_workflow_handle(first.id, run_id=first.result_run_id)
    return {"continue_as_new_first": first_run, "continue_as_new_second": second}


async def refused_signal(client: Client, fakes: FakeActivities, queue: str) -> dict[str, WorkflowHandle]:
    """A decision queued as a signal by someone who may not decide: refused, and its sender told."""
    handle = await start_run(client, queue)
    await wait_for_stage(handle, Stage.AWAITING_DECISION)
    await handle.signal(ResearchWorkflow.decide_signal, decision(DecisionKind.APPROVE, by="U_STRANGER"))
    await handle.execute_update(ResearchWorkflow.decide, decision(DecisionKind.APPROVE))
    return {"refused_signal": handle}


async def draft_refused(client: Client, fakes: FakeActivities, queue: str) -> dict[str, WorkflowHandle]:
    """Slack refuses the draft for good: the run ends, failed, with the reason."""
    fakes.report_failures = {ProgressKind.DRAFT: (1, True)}
    return {"draft_refused": await start_run(client, queue)}


async def unverified_then_final_fallback(
    client: Client, fakes: FakeActivities, queue: str
) -> dict[str, WorkflowHandle]:
    """A claim no source supports goes back to the model, then is marked; the final answer adds another,
    so the approved draft is published instead."""
    fakes.drafts = ["Temporal keeps workflow state durable [1]. It was written in COBOL [2]."]
    fakes.unsupported_words = ["COBOL", "costs are zero"]
    fakes.final_extra = " The costs are zero [1]."
    handle = await start_run(client, queue)
    await wait_for_stage(handle, Stage.AWAITING_DECISION)
    await handle.execute_update(ResearchWorkflow.decide, decision(DecisionKind.APPROVE, feedback="add costs"))
    return {"unverified_then_final_fallback": handle}


async def nothing_to_cite(client: Client, fakes: FakeActivities, queue: str) -> dict[str, WorkflowHandle]:
    """No source supports an answer: the draft declines, and is rejected."""
    fakes.relevant = False
    handle = await start_run(client, queue, question="What is the capital of France?")
    await wait_for_stage(handle, Stage.AWAITING_DECISION)
    await handle.execute_update(ResearchWorkflow.decide, decision(DecisionKind.REJECT))
    return {"nothing_to_cite": handle}


async def research_loop(client: Client, fakes: FakeActivities, queue: str) -> dict[str, WorkflowHandle]:
    """After reading, a look for gaps finds one: a second search and read; again after a revision."""
    fakes.gap_replies = [["event history size limits"], [], ["critics of durable execution"]]
    handle = await start_run(client, queue, research_depth=2)
    await wait_for_stage(handle, Stage.AWAITING_DECISION)
    await handle.execute_update(ResearchWorkflow.decide, decision(DecisionKind.REVISE, feedback="add critics"))
    await wait_for_stage(handle, Stage.AWAITING_DECISION, draft_round=2)
    await handle.execute_update(ResearchWorkflow.decide, decision(DecisionKind.APPROVE, draft_round=2))
    return {"research_loop": handle}


async def budget_spent(client: Client, fakes: FakeActivities, queue: str) -> dict[str, WorkflowHandle]:
    """The token budget runs out before the research loop: the run writes from what it read, and the
    approved draft is published as it is (no budget left to rewrite it)."""
    fakes.gap_replies = [["event history size limits"]]
    handle = await start_run(client, queue, budget={"max_total_tokens": 25})
    await wait_for_stage(handle, Stage.AWAITING_DECISION)
    await handle.execute_update(ResearchWorkflow.decide, decision(DecisionKind.APPROVE, feedback="shorter"))
    return {"budget_spent": handle}


async def judged_claims(client: Client, fakes: FakeActivities, queue: str) -> dict[str, WorkflowHandle]:
    """With a model configured, its judge refutes a claim the deterministic check passed: repaired, then marked."""
    fakes.drafts = ["Temporal keeps workflow state durable [1]. Temporal retries activities forever [2]."]
    fakes.refuted_words = ["forever"]
    fakes.model_judges = True  # the worker has a model: its judge decides
    handle = await start_run(client, queue, model="some-model")
    await wait_for_stage(handle, Stage.AWAITING_DECISION)
    await handle.execute_update(ResearchWorkflow.decide, decision(DecisionKind.APPROVE))
    return {"judged_claims": handle}


async def judge_failed(client: Client, fakes: FakeActivities, queue: str) -> dict[str, WorkflowHandle]:
    """The model's judge fails for good: the claims stay unjudged and marked, the draft open; approved."""
    fakes.judge_error = "the judge's model is down"
    fakes.model_judges = True  # the worker has a model: its judge decides
    handle = await start_run(client, queue, model="some-model")
    await wait_for_stage(handle, Stage.AWAITING_DECISION)
    await handle.execute_update(ResearchWorkflow.decide, decision(DecisionKind.APPROVE))
    return {"judge_failed": handle}


async def recited_claim(client: Client, fakes: FakeActivities, queue: str) -> dict[str, WorkflowHandle]:
    """The judge finds a claim said by another source than the one it cites: cited to that one."""
    fakes.drafts = ["Temporal keeps workflow state durable [1]. It replays the event history [1]."]
    fakes.elsewhere = {"replays": 2}
    fakes.model_judges = True  # the worker has a model: its judge decides
    handle = await start_run(client, queue, model="some-model")
    await wait_for_stage(handle, Stage.AWAITING_DECISION)
    await handle.execute_update(ResearchWorkflow.decide, decision(DecisionKind.APPROVE, feedback="shorter"))
    return {"recited_claim": handle}


async def plan_reviewed(client: Client, fakes: FakeActivities, queue: str) -> dict[str, WorkflowHandle]:
    """The plan waits for its review, is edited, then the draft is approved."""
    handle = await start_run(client, queue, review_plan=True)
    await wait_for_stage(handle, Stage.AWAITING_PLAN_REVIEW)
    edit = PlanReviewInput(
        kind=PlanReviewKind.EDIT, plan_round=1, reviewed_by=APPROVER, sub_questions=["What is replay?"], review_id="r1"
    )
    await handle.execute_update(ResearchWorkflow.review_plan, edit)
    await wait_for_stage(handle, Stage.AWAITING_DECISION)
    await handle.execute_update(ResearchWorkflow.decide, decision(DecisionKind.APPROVE))
    return {"plan_reviewed": handle}


async def follow_up(client: Client, fakes: FakeActivities, queue: str) -> dict[str, WorkflowHandle]:
    """Two replies in a finished run's thread make one follow-up run (signal-with-start, then a signal)."""
    earlier = EarlierRun(workflow_id="research-earlier", question="What is Temporal?", report="It is durable [1].")
    request = ResearchRequest(
        question="What about its costs?", requested_by=REQUESTER, approvers=[APPROVER], earlier=earlier
    )
    first = FollowUpInput(text="What about its costs?", user_id=REQUESTER, ts="1.000001")
    handle = await client.start_workflow(
        ResearchWorkflow.run,
        request,
        id=f"follow-up-{queue}",
        task_queue=queue,
        start_signal="follow_up",
        start_signal_args=[first],
    )
    await handle.signal("follow_up", FollowUpInput(text="And its limits?", user_id=APPROVER, ts="1.000002"))
    await wait_for_stage(handle, Stage.AWAITING_DECISION)
    await handle.execute_update(ResearchWorkflow.decide, decision(DecisionKind.APPROVE))
    return {"follow_up": handle}


async def rating(client: Client, fakes: FakeActivities, queue: str) -> dict[str, WorkflowHandle]:
    """A 👍 on a published report, recorded by its own short workflow (its history keeps its first name)."""
    rated = ReportRating(
        feedback_id="click-1", workflow_id="research-1", rating=Rating.POSITIVE, given_by="U1", given_at=GIVEN_AT
    )
    handle = await client.start_workflow(
        RatingWorkflow.run, rated, id=f"{rating_workflow_id(rated)}-{queue}", task_queue=queue
    )
    return {"answer_feedback": handle}


async def scheduled_publication(client: Client, fakes: FakeActivities, queue: str) -> dict[str, WorkflowHandle]:
    """A schedule's run with --publish whose every claim is verified: published without a person."""
    fakes.drafts = ["Temporal keeps workflow state durable [1]."]
    schedule = ScheduleRef(schedule_id="schedule-T1-C1-0123456789abcdef")
    handle = await start_run(client, queue, schedule=schedule, publish_when_verified=True)
    return {"scheduled_publication": handle}


SCENARIOS: list[Scenario] = [
    approve,
    approve_with_feedback,
    revise_then_approve,
    guardrails_then_reject,
    continue_as_new,
    refused_signal,
    draft_refused,
    unverified_then_final_fallback,
    nothing_to_cite,
    research_loop,
    budget_spent,
    judged_claims,
    judge_failed,
    recited_claim,
    plan_reviewed,
    follow_up,
    rating,
    scheduled_publication,
]


async def record(client: Client) -> None:
    for scenario in SCENARIOS:
        fakes, queue = FakeActivities(), new_queue()
        async with fake_worker(client, queue, fakes):
            handles = await scenario(client, fakes, queue)
            for handle in handles.values():
                with contextlib.suppress(WorkflowFailureError):  # a run may end failed on purpose
                    await client.get_workflow_handle(handle.id).result()
        for name, handle in handles.items():
            history = await handle.fetch_history()
            (HISTORIES / f"{name}.json").write_text(history.to_json())
            print(f"recorded {name}: {len(history.events)} events")


async def main() -> None:
    env = await start_dev_server()
    async with env:
        await record(env.client)


if __name__ == "__main__":
    asyncio.run(main())
