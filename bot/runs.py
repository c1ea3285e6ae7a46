"""Starting runs and sending a person's answers: the two calls every front end (terminal, Slack) makes."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta

from temporalio.client import (
    Client,
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError

from core.settings import Settings
from workflows.models import GateAnswer, Prices, Receipt, ResearchRequest, ResearchResult, SlackContext
from workflows.research import ResearchWorkflow

# How long an answer waits for a worker to answer the update before it is queued as a signal; short
# enough that the signal fallback still fits in a Slack listener's DELIVER_WAIT (bot/answers.py).
# The terminal front end waits the same.
UPDATE_WAIT = timedelta(seconds=1.8)


def build_request(
    settings: Settings,
    question: str,
    requested_by: str,
    slack: SlackContext | None = None,
    review_plan: bool | None = None,
) -> ResearchRequest:
    """A request with the operator's settings; raises pydantic's ValidationError for a bad question.
    ``review_plan`` None takes the workspace's default (RESEARCH_REVIEW_PLAN)."""
    return ResearchRequest(
        review_plan=settings.research_review_plan if review_plan is None else review_plan,
        question=question,
        requested_by=requested_by,
        approvers=settings.research_approvers,
        slack=slack,
        model=None if settings.llm_is_offline else settings.llm_model,
        prices=run_prices(settings),
        max_revision_rounds=settings.max_revision_rounds,
        research_breadth=settings.research_breadth,
        research_depth=settings.research_depth,
        remind_after=settings.approval_remind_after,
        expire_after=settings.approval_expire_after,
    )


def run_prices(settings: Settings) -> Prices:
    """The prices for a run's ledger: none for the offline model, which costs nothing."""
    if settings.llm_is_offline:
        return Prices()
    return Prices(input_per_mtok=settings.llm_price_input_per_mtok, output_per_mtok=settings.llm_price_output_per_mtok)


async def start_run(
    client: Client, settings: Settings, request: ResearchRequest, workflow_id: str
) -> WorkflowHandle[ResearchWorkflow, ResearchResult]:
    """Start a run; the same workflow id twice (a retried command) gives the one run already started."""
    return await client.start_workflow(
        ResearchWorkflow.run,
        request,
        id=workflow_id,
        task_queue=settings.research_task_queue,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )


@dataclass(frozen=True)
class AnswerOutcome:
    accepted: bool
    queued: bool  # True when no worker answered in time and the answer went as a signal
    message: str


async def send_answer(
    client: Client, workflow_id: str, answer: GateAnswer, wait: timedelta = UPDATE_WAIT
) -> AnswerOutcome:
    """Send a person's answer (a decision, a plan review: workflows/gate.py) as its update: accepted, or
    refused in the validator's words. When no worker answers within ``wait``, the same answer goes as its
    signal, queued for the next worker, so it is never lost."""
    handle = client.get_workflow_handle(workflow_id)
    try:
        update = handle.execute_update(answer.UPDATE, answer, result_type=Receipt)
        receipt = await asyncio.wait_for(update, wait.total_seconds())
    except WorkflowUpdateFailedError as refused:
        cause = refused.cause
        message = cause.message if isinstance(cause, ApplicationError) else str(cause or refused)
        return AnswerOutcome(accepted=False, queued=False, message=message)
    except RPCError as error:
        return AnswerOutcome(accepted=False, queued=False, message=_rpc_refusal(error, answer))
    except (TimeoutError, WorkflowUpdateRPCTimeoutOrCancelledError):
        try:
            await handle.signal(answer.SIGNAL, answer)
        except RPCError as error:
            return AnswerOutcome(accepted=False, queued=False, message=_rpc_refusal(error, answer))
        queued = f"No worker is running right now: your {answer.NOUN} is queued and will be applied when one starts."
        return AnswerOutcome(accepted=True, queued=True, message=queued)
    return AnswerOutcome(accepted=receipt.accepted, queued=False, message=receipt.message)


def _rpc_refusal(error: RPCError, answer: GateAnswer) -> str:
    if "already completed" in str(error) or "not found" in str(error).lower():
        return "this run has already ended; nothing was changed"
    return f"Temporal refused the {answer.NOUN}: {error}"
