"""One run's trace, from the /research request to the report: the bot (served over real HTTP) and a worker,
both in this process so one in-memory exporter reads every span, on the session's Temporal dev server and
the sandbox Slack. The tree is checked, and printed with ``-s`` (docs/operations.md#traces shows it).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from temporalio.testing import WorkflowEnvironment

from core import temporal, tracing
from researchbot.promotion import promote_own_worker
from researchbot.wiring import build_activities
from researchbot.worker import build_worker
from sandbox import Channel, SlackApiServer
from tests.e2e.slack_stack import (
    APPROVER,
    QUESTION,
    REPO,
    Stack,
    bot_settings,
    eventually,
    open_modal,
    report,
    running_stack,
    started_run,
    submit,
)
from tests.support.otlp import running_collector
from workflows.models import Outcome

MODEL_CALLS = ("plan_research", "synthesize_draft", "finalize_answer")
LONGEST_ATTRIBUTE = 120  # ids, names and hosts; a prompt, a question or a page's text would be longer


@asynccontextmanager
async def traced_stack(slack: SlackApiServer, env: WorkflowEnvironment, data: Path) -> AsyncIterator[Stack]:
    """The bot and an in-process worker on a client connected while tracing goes to the test's exporter."""
    address = env.client.service_client.config.target_host
    client = await temporal.connect({"target_host": address})
    assert tracing.interceptors(), "tracing is on while the stack is built"
    stack = Stack(slack, env, f"traces-{uuid.uuid4().hex[:8]}", data, client)
    settings = bot_settings(slack, stack.queue, data).model_copy(
        update={
            "search_provider": ["local"],
            "research_corpus_dir": REPO / "tests" / "data" / "corpus",
            "worker_deployment_name": stack.queue,  # a deployment of its own, made current below
        }
    )
    async with build_activities(settings) as activities, build_worker(client, settings, activities):
        await promote_own_worker(client, settings)
        await stack.start_bot()
        try:
            yield stack
        finally:
            await stack.stop_bot()


@pytest.fixture
def exporter() -> Iterable[InMemorySpanExporter]:
    spans = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    with tracing.use(provider):
        yield spans
    provider.shutdown()


async def test_a_run_is_one_trace_from_the_command_to_the_report(
    exporter: InMemorySpanExporter,
    slack: SlackApiServer,
    env: WorkflowEnvironment,
    channel: Channel,
    tmp_path: Path,
) -> None:
    async with traced_stack(slack, env, tmp_path) as stack:
        first_draft, workflow_id = await started_run(stack, channel)
        modal = await open_modal(stack, channel, first_draft, "approve", APPROVER)
        assert "errors" not in (await submit(stack, modal, APPROVER, "Keep it short.")).text
        result = await stack.handle(workflow_id).result()
        assert result.outcome is Outcome.APPROVED
        await eventually(lambda: report(stack, channel), "the final report in the thread", stack)
    spans = list(exporter.get_finished_spans())
    print("\n" + span_tree(spans, workflow_id))

    by_id = {span.context.span_id: span for span in spans}
    [command] = [s for s in spans if s.name == "slack /research" and s.parent is None]
    assert command.attributes["slack.command"] == "/research" and command.attributes["slack.user_id"]
    run = [s for s in spans if s.context.trace_id == command.context.trace_id]

    def parent(span: ReadableSpan) -> ReadableSpan:
        assert span.parent is not None, f"{span.name} has no parent"
        return by_id[span.parent.span_id]

    [start] = [s for s in run if s.name == "StartWorkflow:ResearchWorkflow"]
    assert parent(start) is command and start.attributes["temporalWorkflowID"] == workflow_id
    [run_workflow] = [s for s in run if s.name == "RunWorkflow:ResearchWorkflow"]
    assert parent(run_workflow) is start, "the worker's spans join the bot's trace"
    for name in ("plan_research", "search", "read_page", "synthesize_draft", "report_progress", "store_result"):
        activities = [s for s in run if s.name == f"RunActivity:{name}"]
        assert activities, f"no {name} activity in the run's trace"
        for activity in activities:
            assert parent(activity).name == f"StartActivity:{name}" and parent(parent(activity)) is start

    for name in MODEL_CALLS:
        [model] = [s for s in run if s.name == f"RunActivity:{name}"]
        assert model.attributes["gen_ai.usage.input_tokens"] > 0 < model.attributes["gen_ai.usage.output_tokens"]
    searches = [s for s in run if s.name == "RunActivity:search"]
    assert all(s.attributes["search.providers"] == ("local",) for s in searches)
    assert sum(s.attributes["search.hits"] for s in searches) > 0
    reads = [s for s in run if s.name == "RunActivity:read_page"]
    assert any(s.attributes["page.ok"] and s.attributes["page.bytes"] > 0 for s in reads)
    kinds = {s.attributes["research.progress.kind"] for s in run if s.name == "RunActivity:report_progress"}
    assert {"started", "draft", "decision", "finished"} <= kinds, "the final post is in the run's trace"
    [final] = [s for s in run if s.attributes.get("research.progress.kind") == "finished"]
    posts = [s for s in run if s.parent and s.parent.span_id == final.context.span_id]
    assert "chat.postMessage" in [s.attributes["slack.method"] for s in posts], "the report's post, by method"

    # The click is a trace of its own; the workflow's handling of it is in the run's, linked to the click.
    [handled] = [s for s in run if s.name == "HandleUpdate:decide"]
    assert parent(handled) is start
    [link] = handled.links
    clicked = by_id[link.context.span_id]
    assert clicked.name == "StartWorkflowUpdate:decide" and clicked.context.trace_id != command.context.trace_id
    assert parent(clicked).name == "slack view_submission decision_modal"

    # No question, prompt, answer or page text in any attribute or event.
    texts = [QUESTION, "Keep it short.", result.answer[:60]]
    for span in spans:
        values = [*span.attributes.values(), *(v for e in span.events for v in e.attributes.values())]
        for value in values:
            for text in (value,) if isinstance(value, str) else value if isinstance(value, tuple) else ():
                assert len(str(text)) <= LONGEST_ATTRIBUTE, f"{span.name} carries a long text: {text!r}"
                assert not any(t in str(text) for t in texts), f"{span.name} carries content: {text!r}"


async def test_a_worker_process_joins_the_bot_s_trace_and_exports_it_over_otlp(
    exporter: InMemorySpanExporter,
    slack: SlackApiServer,
    env: WorkflowEnvironment,
    channel: Channel,
    tmp_path: Path,
) -> None:
    """`researchbot worker` as deployed: OTEL_EXPORTER_OTLP_ENDPOINT set, its spans sent to a loopback
    collector when SIGTERM stops it, under the trace the bot (in this process) started."""
    with running_collector() as collector:
        worker_settings = {"OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint}
        async with running_stack(slack, env, tmp_path, worker_settings=worker_settings) as stack:
            first_draft, workflow_id = await started_run(stack, channel)
            modal = await open_modal(stack, channel, first_draft, "approve", APPROVER)
            assert "errors" not in (await submit(stack, modal, APPROVER, None)).text
            assert (await stack.handle(workflow_id).result()).outcome is Outcome.APPROVED
        received = collector.received()  # the worker has stopped: what it batched was sent on SIGTERM
    [command] = [s for s in exporter.get_finished_spans() if s.name == "slack /research"]
    [start] = [s for s in exporter.get_finished_spans() if s.name == "StartWorkflow:ResearchWorkflow"]
    worker = {span.name: span for span in received if span.trace_id == command.context.trace_id}
    assert {"RunWorkflow:ResearchWorkflow", "RunActivity:plan_research", "RunActivity:synthesize_draft"} <= set(worker)
    assert {span.service for span in worker.values()} == {tracing.WORKER_SERVICE}
    assert worker["RunWorkflow:ResearchWorkflow"].parent_span_id == start.context.span_id


def span_tree(spans: list[ReadableSpan], workflow_id: str) -> str:
    """The spans as an indented tree, each trace from its root, with the attributes that say what happened."""
    children: dict[int | None, list[ReadableSpan]] = {}
    for span in sorted(spans, key=lambda s: s.start_time or 0):
        children.setdefault(span.parent.span_id if span.parent else None, []).append(span)
    lines: list[str] = []

    def walk(span: ReadableSpan, depth: int) -> None:
        shown = {k: v for k, v in span.attributes.items() if not k.startswith("temporal") and k != "slack.team_id"}
        links = " (linked)" if span.links else ""
        fields = " ".join(f"{k}={v}" for k, v in shown.items())
        lines.append(f"{'  ' * depth}{span.name}{links}  {fields}".rstrip().replace(workflow_id, "<run>"))
        for child in children.get(span.context.span_id, []):
            walk(child, depth + 1)

    for root in children.get(None, []):
        walk(root, 0)
    return "\n".join(lines)
