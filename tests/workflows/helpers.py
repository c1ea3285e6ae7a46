"""Starting runs and waiting on them, shared by the workflow, crash and replay tests."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from temporalio.client import Client, WorkflowHandle
from temporalio.worker import Worker

from workflows.models import DecisionInput, DecisionKind, ResearchRequest, ResearchResult, RunStatus, Stage
from workflows.ratings import RatingWorkflow
from workflows.research import ResearchWorkflow

REQUESTER = "U_ASKER"
APPROVER = "U_APPROVER"


def new_queue() -> str:
    return f"test-{uuid.uuid4().hex[:10]}"


def fake_worker(client: Client, task_queue: str, activities: Any) -> Worker:
    return Worker(
        client, task_queue=task_queue, workflows=[ResearchWorkflow, RatingWorkflow], activities=activities.all()
    )


async def start_run(
    client: Client, task_queue: str, **overrides: Any
) -> WorkflowHandle[ResearchWorkflow, ResearchResult]:
    request = ResearchRequest(
        question=overrides.pop("question", "How does Temporal make workflows durable?"),
        requested_by=REQUESTER,
        approvers=[APPROVER],
        **overrides,
    )
    return await client.start_workflow(
        ResearchWorkflow.run, request, id=f"research-{uuid.uuid4().hex[:12]}", task_queue=task_queue
    )


async def wait_for_stage(
    handle: WorkflowHandle[Any, Any], stage: Stage, draft_round: int = 1, tries: int = 400, every: float = 0.05
) -> RunStatus:
    status: RunStatus | None = None
    for _ in range(tries):
        status = await handle.query(ResearchWorkflow.status)
        if status.stage == stage and status.draft_round >= draft_round:
            return status
        await asyncio.sleep(every)
    raise AssertionError(f"run never reached {stage} (round {draft_round}); last status: {status}")


def decision(
    kind: DecisionKind, draft_round: int = 1, by: str = REQUESTER, feedback: str | None = None
) -> DecisionInput:
    return DecisionInput(
        kind=kind, draft_round=draft_round, decided_by=by, feedback=feedback, decision_id=uuid.uuid4().hex
    )
