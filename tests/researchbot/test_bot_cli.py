"""`researchbot bot` as an operator meets it: a one-line refusal without its Slack settings, and a
real process that serves /healthz and signed commands, then stops cleanly on SIGTERM, having started
the runs it acked."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from bot.start_in_time import QUEUED, STARTED
from sandbox import SlackApiServer, payloads
from tests.fakes.slack_sender import SlackSender
from tests.fakes.slow_proxy import SlowProxy
from tests.support.bot_process import clean_env, spawn_bot, wait_until_healthy
from tests.support.ports import free_port

SECRET = "cli-signing-secret"
ACKED_BEFORE_SIGTERM = 30


@pytest.mark.parametrize(
    ("command", "extra", "expected"),
    [
        ("bot", {"SLACK_SIGNING_SECRET": "s"}, "SLACK_BOT_TOKEN is not set"),
        ("bot", {"SLACK_BOT_TOKEN": "xoxb-1"}, "SLACK_SIGNING_SECRET is not set"),
        ("bot", {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "  "}, "SLACK_SIGNING_SECRET is not set"),
        # Real Slack without a secret or an app token: dev must not serve unsigned HTTP either.
        ("dev", {"SLACK_BOT_TOKEN": "xoxb-1"}, "SLACK_SIGNING_SECRET is not set"),
    ],
)
def test_the_bot_refuses_to_start_without_its_slack_settings(
    tmp_path: Path, command: str, extra: dict[str, str], expected: str
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "researchbot", command],
        env=clean_env(tmp_path, **extra),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [f"error: {done.stderr.strip().removeprefix('error: ')}"]
    assert expected in done.stderr and "Traceback" not in done.stderr + done.stdout


async def test_the_bot_process_serves_health_and_signed_commands_then_stops_on_sigterm(
    tmp_path: Path, slack: SlackApiServer, env: WorkflowEnvironment
) -> None:
    port, channel = free_port(), f"C{uuid.uuid4().hex[:8].upper()}"
    host, temporal_port = env.client.service_client.config.target_host.rsplit(":", 1)
    async with SlowProxy(host, int(temporal_port)) as slow_network:
        settings = clean_env(
            tmp_path,
            PORT=str(port),
            SLACK_BOT_TOKEN=slack.workspace.bot_token,
            SLACK_API_URL=slack.base_url,
            SLACK_SIGNING_SECRET=SECRET,
            TEMPORAL_ADDRESS=slow_network.address,
        )
        process = spawn_bot(settings, tmp_path, output=subprocess.PIPE)
        url = f"http://127.0.0.1:{port}"
        sender = SlackSender(url, SECRET)
        try:
            await wait_until_healthy(process, url)
            ws, asker = slack.workspace, slack.workspace.users["UASKER"]
            where = ws.add_channel(f"cli-{channel.lower()}", members=[asker.id])

            def asking(text: str) -> dict[str, str]:
                url = slack.response_url(where.id, asker.id)
                return payloads.command_form(ws, channel=where, user=asker, text=text, response_url=url)

            answer = await sender.command(**asking("help"))
            assert answer.status_code == 200 and "ResearchBot" in answer.json()["text"]
            slow_network.latency = 0.5  # starting a run now takes a second or more
            asked = await asyncio.gather(
                *(sender.command(**asking(f"What is a task queue? ({n})")) for n in range(ACKED_BEFORE_SIGTERM))
            )
            # Each was started before its ack, or (past START_DEADLINE) acked as queued and still starting.
            assert all(a.status_code == 200 and a.json()["text"] in (STARTED, QUEUED) for a in asked)
            process.send_signal(signal.SIGTERM)  # at once: the runs it has acked must still start
            output = (await asyncio.to_thread(process.communicate, timeout=60))[0].decode()
        finally:
            await sender.aclose()
            process.kill()
    assert process.returncode == 0, output
    assert "bot.started" in output and SECRET not in output and slack.workspace.bot_token not in output
    query = f"WorkflowId STARTS_WITH 'research-{slack.workspace.team_id}-UASKER-{where.id}-'"
    for _ in range(100):  # visibility may trail the starts a little (a wait, not a timing assertion)
        runs = [execution.id async for execution in env.client.list_workflows(query)]
        if len(runs) >= ACKED_BEFORE_SIGTERM:
            break
        await asyncio.sleep(0.1)
    assert len(runs) == ACKED_BEFORE_SIGTERM, "a command was acked, then lost when the bot stopped"
    for run in runs:
        await env.client.get_workflow_handle(run).terminate("test over")
