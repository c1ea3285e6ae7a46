"""Tokens spent by a failed attempt still count: the next attempt adds them to the usage it returns."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from activities.chat_client import ChatClient
from activities.llm import ChatResearchModel, LlmActivities
from tests.fakes.openai_server import FakeOpenAI
from workflows import SYNTHESIZE_DRAFT
from workflows.activity_io import SynthesizeInput, TextOutput
from workflows.models import Page, Source

URL = "https://example.org/durable"


@workflow.defn(sandboxed=False)
class OneDraft:
    @workflow.run
    async def run(self, data: SynthesizeInput) -> TextOutput:
        return await workflow.execute_activity(
            SYNTHESIZE_DRAFT,
            data,
            result_type=TextOutput,
            start_to_close_timeout=timedelta(seconds=20),
            heartbeat_timeout=timedelta(seconds=5),
            retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=100), maximum_attempts=3),
        )


async def test_an_empty_answer_retried_is_charged_for_both_attempts(env: WorkflowEnvironment) -> None:
    answers = iter(["", "Workflows are durable [1]."])  # the first answer is empty: a retryable failure
    queue = f"spend-{uuid.uuid4().hex[:8]}"
    data = SynthesizeInput(
        question="Why are workflows durable?",
        sources=[Source(number=1, url=URL, title="Durable")],
        pages=[Page(url=URL, title="Durable", text="Workflows are durable because history is replayed.")],
    )
    with FakeOpenAI(reply=lambda messages: next(answers)) as llm:
        async with httpx.AsyncClient(timeout=10) as http:
            activities = LlmActivities(ChatResearchModel(ChatClient(http, llm.base_url, None), "m"))
            async with Worker(
                env.client,
                task_queue=queue,
                workflows=[OneDraft],
                activities=[activities.synthesize_draft],
                workflow_runner=UnsandboxedWorkflowRunner(),
            ):
                out = await env.client.execute_workflow(OneDraft.run, data, id=queue, task_queue=queue)
        first, _ = llm.chat_requests

    assert out.text == "Workflows are durable [1]."
    assert out.usage.calls == 2  # the empty answer's completion is on the bill too
    prompt = sum(len(m["content"]) for m in first.body["messages"]) // 4
    assert out.usage.prompt_tokens == 2 * prompt
