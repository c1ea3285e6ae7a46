"""A Slack post held by the rate budget past its activity's start-to-close timeout is not doubled.

Temporal retries an attempt that timed out while the first may still be waiting for its turn; if
the first then posted after the retry had looked for its message, Slack would show it twice. Each
write a report makes carries the attempt's deadline (``SEND_MARGIN_SECONDS`` before its timeout):
one still held then is withdrawn, never sent, and the next attempt posts it."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
import pytest
from slack_sdk.web.async_client import AsyncWebClient
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from activities.progress import ProgressActivities
from activities.slack.lookup import SEND_MARGIN_SECONDS, STEP_EVENT
from activities.slack.reporter import SlackReporter
from activities.slack.writes import SlackWrites
from sandbox import SlackApiServer
from tests.activities.slack_runs import RecordingReporter, Run, context_in
from workflows.activity_io import ProgressInput, ProgressKind, ProgressReceipt
from workflows.calls import ProgressCalls

ATTEMPT_SECONDS = SEND_MARGIN_SECONDS + 3  # each attempt may hold its post 3 s
HELD_SECONDS = 2 * ATTEMPT_SECONDS  # Slack's Retry-After: longer than an attempt may last


@workflow.defn(name="ReportOnce")
class ReportOnce:
    """One report with short attempts, retried at once: a held post meets its timeout quickly."""

    @workflow.run
    async def run(self, input: ProgressInput) -> ProgressReceipt:
        return await workflow.execute_activity_method(
            ProgressCalls.report_progress,
            input,
            start_to_close_timeout=timedelta(seconds=ATTEMPT_SECONDS),
            heartbeat_timeout=timedelta(seconds=5),
            retry_policy=RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=1)),
        )


@pytest.mark.slow
async def test_a_post_held_past_its_attempts_timeout_is_posted_once(
    env: WorkflowEnvironment, slack: SlackApiServer
) -> None:
    client = AsyncWebClient(token=slack.workspace.bot_token, base_url=slack.base_url, retry_handlers=[])
    async with httpx.AsyncClient() as http:
        reporter = SlackReporter(client, RecordingReporter(), http, writes=SlackWrites({}))
        run = Run(reporter, context_in())
        # The first post meets a 429 whose Retry-After outlasts the attempt: the post waits in the line.
        slack.rate_limit("chat.postMessage", retry_after=int(HELD_SECONDS))
        queue = f"held-posts-{uuid.uuid4().hex[:8]}"
        async with Worker(
            env.client,
            task_queue=queue,
            workflows=[ReportOnce],
            activities=[ProgressActivities(reporter).report_progress],
            workflow_runner=UnsandboxedWorkflowRunner(),
        ):
            handle = await env.client.start_workflow(
                ReportOnce.run, run.input(ProgressKind.STARTED), id=f"held-{uuid.uuid4()}", task_queue=queue
            )
            receipt = await handle.result()

    roots = [
        m
        for m in slack.workspace.messages["CRESEARCH"]
        if (m.get("metadata") or {}).get("event_type") == STEP_EVENT
        and m["metadata"]["event_payload"]["step"] == "root"
    ]
    assert [m["ts"] for m in roots] == [receipt.messages["root"]]  # posted once
    # ...and it was held past an attempt's deadline: later attempts looked for it before posting it.
    assert slack.calls_to("conversations.history")
    assert len(slack.calls_to("chat.postMessage")) == 2  # the 429, then the one post
