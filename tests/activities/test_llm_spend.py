"""Tokens spent by a failed attempt still count: the next attempt adds them to the usage it returns."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from activities.archive.store import ArchiveStore
from activities.model.chat_client import ChatClient
from activities.model.llm import ChatResearchModel, LlmActivities
from core.workspace_tokens import WorkspaceTokens
from slack_ui.ids import workflow_id_for_message
from tests.fakes.openai_server import FakeOpenAI
from workflows.activity_io import SynthesizeInput, TextOutput
from workflows.calls import ModelCalls
from workflows.models import Page, Source

URL = "https://example.org/durable"


@workflow.defn(sandboxed=False)
class OneDraft:
    @workflow.run
    async def run(self, data: SynthesizeInput) -> TextOutput:
        return await workflow.execute_activity_method(
            ModelCalls.synthesize_draft,
            data,
            start_to_close_timeout=timedelta(seconds=20),
            heartbeat_timeout=timedelta(seconds=5),
            retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=100), maximum_attempts=3),
        )


DATA = SynthesizeInput(
    question="Why are workflows durable?",
    sources=[Source(number=1, url=URL, title="Durable")],
    pages=[Page(url=URL, title="Durable", text="Workflows are durable because history is replayed.")],
)


async def _draft_after_an_empty_answer(
    env: WorkflowEnvironment, workflow_id: str | None = None, workspaces: WorkspaceTokens | None = None
) -> tuple[TextOutput, Any]:
    """One draft whose first answer is empty (a retryable failure): the output and the first request."""
    answers = iter(["", "Workflows are durable [1]."])
    queue = f"spend-{uuid.uuid4().hex[:8]}"
    with FakeOpenAI(reply=lambda messages: next(answers)) as llm:
        async with httpx.AsyncClient(timeout=10) as http:
            model = ChatResearchModel(ChatClient(http, llm.base_url, None), "m")
            activities = LlmActivities(model, workspaces=workspaces)
            async with Worker(
                env.client,
                task_queue=queue,
                workflows=[OneDraft],
                activities=[activities.synthesize_draft],
                workflow_runner=UnsandboxedWorkflowRunner(),
            ):
                out = await env.client.execute_workflow(OneDraft.run, DATA, id=workflow_id or queue, task_queue=queue)
        first, _ = llm.chat_requests
    return out, first


async def test_an_empty_answer_retried_is_charged_for_both_attempts(env: WorkflowEnvironment) -> None:
    out, first = await _draft_after_an_empty_answer(env)

    assert out.text == "Workflows are durable [1]."
    assert out.usage.calls == 2  # the empty answer's completion is on the bill too
    prompt = sum(len(m["content"]) for m in first.body["messages"]) // 4
    assert out.usage.prompt_tokens == 2 * prompt


async def test_a_slack_runs_tokens_every_attempt_are_charged_to_its_workspace_today(
    env: WorkflowEnvironment, store: ArchiveStore
) -> None:
    """The workspace's daily total (bot/caps.py RESEARCH_WORKSPACE_DAILY_TOKENS) counts failed attempts too."""
    workspaces = WorkspaceTokens(store.engine)
    team = f"T{uuid.uuid4().hex[:8].upper()}"
    workflow_id = workflow_id_for_message(team, "UASKER", "CSPEND", "1796500000.000100")
    out, _ = await _draft_after_an_empty_answer(env, workflow_id, workspaces)

    assert out.usage.calls == 2
    assert workspaces.spent(team) == out.usage.prompt_tokens + out.usage.completion_tokens > 0
    assert workspaces.spent("TOTHER") == 0
