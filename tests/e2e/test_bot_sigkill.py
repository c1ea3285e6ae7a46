"""A 200 means a run: the bot SIGKILLed at random moments during bursts of 40 commands loses none it
confirmed, and a bot killed between opening a decision modal and its submission loses no decision.

The bot starts each run (a durable write to Temporal, with an id derived from the command) before it
answers, so every command answered "Researching…" has exactly one run, whenever the bot dies. Temporal
is reached through a proxy that adds latency, so a burst is still in flight when the kill comes.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
import subprocess
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from sandbox import Channel, SlackApiServer
from sandbox.payloads import command_body, command_form
from sandbox.signing import signed_headers
from slack_ui.ids import workflow_id_for
from tests.e2e.slack_stack import APPROVER, Stack, eventually, open_modal, report, started_run, submit
from tests.e2e.slack_stack import SECRET as STACK_SECRET
from tests.fakes.slack_sender import SlackSender
from tests.fakes.slow_proxy import SlowProxy
from tests.support.bot_process import clean_env, spawn_bot, wait_until_healthy
from tests.support.ports import free_port
from workflows.models import Outcome

pytestmark = pytest.mark.slow

SECRET = "sigkill-signing-secret"
BURST = 40
BURSTS = 4


async def ask(http: httpx.AsyncClient, url: str, fields: dict[str, str]) -> httpx.Response | None:
    body = command_body(fields)
    try:
        return await http.post(url, content=body.encode(), headers=signed_headers(SECRET, body))
    except httpx.TransportError:
        return None  # the bot died first: no answer, no promise


async def test_every_command_answered_researching_has_exactly_one_run_after_a_sigkill(
    tmp_path: Path, slack: SlackApiServer, env: WorkflowEnvironment
) -> None:
    chance = random.Random(20261202)
    asker = slack.workspace.users["UASKER"]
    host, temporal_port = env.client.service_client.config.target_host.rsplit(":", 1)
    confirmed: list[str] = []
    unanswered = 0
    async with SlowProxy(host, int(temporal_port)) as slow_network, httpx.AsyncClient(timeout=30) as http:
        slow_network.latency = 0.2
        for burst in range(BURSTS):
            port = free_port()
            channel = slack.workspace.add_channel(f"kill-{burst}-{uuid.uuid4().hex[:6]}", members=[asker.id])
            settings = clean_env(
                tmp_path,
                PORT=str(port),
                SLACK_BOT_TOKEN=slack.workspace.bot_token,
                SLACK_API_URL=slack.base_url,
                SLACK_SIGNING_SECRET=SECRET,
                TEMPORAL_ADDRESS=slow_network.address,
                RESEARCH_TASK_QUEUE=f"nobody-{uuid.uuid4().hex[:8]}",  # runs are only started, never worked
            )
            process = spawn_bot(settings, tmp_path)
            url = f"http://127.0.0.1:{port}/slack/events"
            try:
                await wait_until_healthy(process, f"http://127.0.0.1:{port}")
                commands = [
                    command_form(
                        slack.workspace,
                        channel=channel,
                        user=asker,
                        text=f"What is a task queue? ({burst}.{n})",
                        response_url=slack.response_url(channel.id, asker.id),
                    )
                    for n in range(BURST)
                ]
                asked = asyncio.gather(*(ask(http, url, fields) for fields in commands))
                await asyncio.sleep(chance.uniform(0.3, 2.5))
                process.send_signal(signal.SIGKILL)
                answers = await asked
            finally:
                process.kill()
                process.wait(timeout=10)
            for fields, answer in zip(commands, answers, strict=True):
                if answer is not None and answer.status_code == 200 and "Researching" in answer.text:
                    confirmed.append(workflow_id_for(fields))
                elif answer is None:
                    unanswered += 1

    assert confirmed, "no command was confirmed before the kill; the test proved nothing"
    assert len(set(confirmed)) == len(confirmed)
    missing = []
    for workflow_id in confirmed:
        handle = env.client.get_workflow_handle(workflow_id)
        try:
            await handle.describe()
        except RPCError:
            missing.append(workflow_id)
            continue
        await handle.terminate("test over")
    assert missing == [], f"{len(missing)} of {len(confirmed)} confirmed commands have no run"
    print(f"confirmed {len(confirmed)}, unanswered {unanswered} of {BURST * BURSTS}")


@contextlib.asynccontextmanager
async def bot_process(stack: Stack, tmp_path: Path) -> AsyncIterator[subprocess.Popen[bytes]]:
    """`researchbot bot` on the stack's task queue, answering in place of the stack's own bot."""
    port = free_port()
    settings = clean_env(
        tmp_path,
        PORT=str(port),
        SLACK_BOT_TOKEN=stack.workspace.bot_token,
        SLACK_API_URL=stack.slack.base_url,
        SLACK_SIGNING_SECRET=STACK_SECRET,
        TEMPORAL_ADDRESS=stack.env.client.service_client.config.target_host,
        RESEARCH_TASK_QUEUE=stack.queue,
        RESEARCH_APPROVERS=APPROVER,
    )
    process = spawn_bot(settings, tmp_path)
    own, stack.sender = stack.sender, SlackSender(f"http://127.0.0.1:{port}", STACK_SECRET)
    try:
        await wait_until_healthy(process, f"http://127.0.0.1:{port}")
        yield process
    finally:
        await stack.http.aclose()
        stack.sender = own
        process.kill()
        process.wait(timeout=10)


async def test_a_bot_killed_between_a_modal_opening_and_its_submission_loses_no_decision(
    stack: Stack, channel: Channel, tmp_path: Path
) -> None:
    message, workflow_id = await started_run(stack, channel)
    async with bot_process(stack, tmp_path) as first:
        view = await open_modal(stack, channel, message, "approve", APPROVER)
        first.send_signal(signal.SIGKILL)  # the modal is open in Slack; the bot that opened it is gone
    async with bot_process(stack, tmp_path):
        response = await submit(stack, view, APPROVER, "Add a line on heartbeats.")
        assert response.status_code == 200 and not response.content  # the modal closes: the decision is in
    result = await stack.handle(workflow_id).result()
    assert result.outcome == Outcome.APPROVED
    assert [d.decided_by for d in result.decisions if d.applied] == [APPROVER]
    assert await eventually(lambda: report(stack, channel), "the final report", stack)
