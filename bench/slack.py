"""Slack-side benchmarks, against the local Slack Web API server, a real worker process and Temporal.

    python -m bench.slack [--burst 100] [--runs 10]

1. From the command to the first message in the run's thread.
2. From the view submission that approves to the run's final post (instant offline LLM and local
   search): median and p95.
3. Ack latency of /research under a burst of concurrent signed requests, against the same bot
   answering `/research help` (which starts nothing) in the same run: median, p99, their ratio,
   failed acks, and how many acks said "queued" (the start took longer than START_DEADLINE). A
   question is acked only once its workflow has started (bot/start_in_time.py), so its ack includes one
   start_workflow round trip to Temporal; no worker is needed for that. The bot runs as
   `researchbot bot` in its own process, as it does in production, so the load generator here does
   not share its event loop. Each burst starts on a quiet machine:
   the next one waits until the runs of the last one have started.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import httpx
from temporalio.testing import WorkflowEnvironment

from bench.burst_client import BurstClient
from bot.server import EVENTS_PATH, HEALTH_PATH
from bot.start_in_time import QUEUED
from sandbox import SlackApiServer, Workspace, payloads
from tests.e2e.slack_stack import (
    APPROVER,
    ASKER,
    SECRET,
    STRANGER,
    Stack,
    ask,
    draft,
    messages,
    open_modal,
    report,
    running_stack,
    submit,
)
from tests.fakes.slack_sender import SlackSender
from tests.temporal_servers import start_dev_server


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def burst(
    bursts: BurstClient, url: str, fields: Callable[[str], dict[str, str]], text: str, count: int
) -> tuple[list[float], int, int]:
    """Ack times, failed acks, and acks that said the run is queued rather than started."""
    bodies = [payloads.command_body(fields(text if text == "help" else f"{text} #{i}")) for i in range(count)]
    answers = await bursts.fire(url, bodies)
    ok = [status == 200 and bool(said) for _, status, said in answers]
    queued = sum(1 for (_, _, said), fine in zip(answers, ok, strict=True) if fine and said == QUEUED)
    return [seconds for seconds, _, _ in answers], ok.count(False), queued


@asynccontextmanager
async def bot_process(slack: SlackApiServer, env: WorkflowEnvironment) -> AsyncIterator[SlackSender]:
    """`researchbot bot` on a free port, with no worker behind it (a start needs Temporal, not a worker)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    prefixes = ("TEMPORAL_", "OPENAI_", "SLACK_", "SEARCH_", "DATABASE_", "RESEARCH_", "LLM_", "METRICS_", "PORT")
    bot_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(prefixes)},
        "TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
        "RESEARCH_TASK_QUEUE": f"bench-acks-{uuid.uuid4().hex[:8]}",
        "SLACK_BOT_TOKEN": slack.workspace.bot_token,
        "SLACK_API_URL": slack.base_url,
        "SLACK_SIGNING_SECRET": SECRET,
        # A burst is a few askers starting hundreds of runs: the benchmark measures acks, not caps.
        "RESEARCH_MAX_RUNS_IN_FLIGHT": "0",
        "RESEARCH_MAX_RUNS_PER_HOUR": "0",
        "PORT": str(port),
        "LOG_LEVEL": "WARNING",
    }
    # From a temporary folder, so a developer's .env (real Slack tokens, say) is not read.
    with TemporaryDirectory() as folder:
        bot = subprocess.Popen(
            [sys.executable, "-m", "researchbot", "bot"], env=bot_env, cwd=folder, stdin=subprocess.DEVNULL
        )
        sender = SlackSender(f"http://127.0.0.1:{port}", SECRET)
        try:
            await wait_for_health(sender, bot)
            yield sender
        finally:
            await sender.aclose()
            bot.terminate()
            bot.wait(timeout=30)


async def wait_for_health(sender: SlackSender, bot: subprocess.Popen[bytes]) -> None:
    health = sender.url.replace(EVENTS_PATH, HEALTH_PATH)
    for _ in range(600):
        if bot.poll() is not None:
            raise RuntimeError(f"researchbot bot exited with {bot.returncode}")
        try:
            if (await sender.http.get(health)).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError("researchbot bot never answered /healthz")


async def ack_latency(slack: SlackApiServer, env: WorkflowEnvironment, count: int, rounds: int = 10) -> None:
    workspace = slack.workspace
    channel = workspace.add_channel("bench-acks", members=[ASKER])

    def fields(text: str) -> dict[str, str]:
        return payloads.command_form(
            workspace,
            channel=channel,
            user=workspace.users[ASKER],
            text=text,
            response_url=slack.response_url(channel.id, ASKER),
        )

    async def started_runs() -> int:
        query = f"WorkflowId STARTS_WITH 'research-{workspace.team_id}-{ASKER}-{channel.id}-'"
        return (await env.client.count_workflows(query)).count

    async def quiet(expected_runs: int) -> None:
        await wait_for_async(started_runs, expected_runs, "the burst's runs to start")
        await asyncio.sleep(2)  # the server's own work for the new runs (tasks, visibility) settles too

    research, nothing, failed, queued = [], [], 0, 0
    bursts = BurstClient(SECRET)  # sent and timed from a process of its own (see bench/burst_client.py)
    async with bot_process(slack, env) as sender:
        url = sender.url
        await burst(bursts, url, fields, "help", count)  # warm-up: Bolt's auth.test, connections
        for done in range(1, rounds + 1):  # interleaved rounds, so machine noise hits both alike
            times, bad, _ = await burst(bursts, url, fields, "help", count)
            nothing, failed = nothing + times, failed + bad
            await quiet((done - 1) * count)
            times, bad, late = await burst(bursts, url, fields, "What is durable execution?", count)
            research, failed, queued = research + times, failed + bad, queued + late
            await quiet(done * count)
        # The same bursts back to back: each one's runs start while the next one arrives.
        back_research, back_nothing = [], []
        for _ in range(rounds):
            times, bad, _ = await burst(bursts, url, fields, "help", count)
            back_nothing, failed = back_nothing + times, failed + bad
            times, bad, late = await burst(bursts, url, fields, "What is durable execution?", count)
            back_research, failed, queued = back_research + times, failed + bad, queued + late
        await quiet(2 * rounds * count)
    bursts.close()
    print(
        f"/research ack under a burst of {count} ({rounds} rounds): median {1000 * statistics.median(research):.0f} "
        "ms, "
        f"p99 {1000 * percentile(research, 0.99):.0f} ms; do-nothing request: median "
        f"{1000 * statistics.median(nothing):.0f} ms, "
        f"p99 {1000 * percentile(nothing, 0.99):.0f} ms; p99 ratio "
        f"{percentile(research, 0.99) / percentile(nothing, 0.99):.2f}x "
        f"(target <= 1.15x); failed acks: {failed}; acked as queued: {queued}"
    )
    print(
        f"  back to back, no pause between bursts: /research p99 {1000 * percentile(back_research, 0.99):.0f} ms, "
        f"help p99 {1000 * percentile(back_nothing, 0.99):.0f} ms; ratio "
        f"{percentile(back_research, 0.99) / percentile(back_nothing, 0.99):.2f}x"
    )


async def wait_for_async(read: Callable[[], Awaitable[int]], expected: int, what: str) -> None:
    for _ in range(1200):
        if await read() >= expected:
            return
        await asyncio.sleep(0.05)
    raise RuntimeError(f"timed out waiting for {what}")


def thread_replies(stack: Stack, channel: Any) -> list[dict[str, Any]]:
    return [m for m in messages(stack, channel) if m.get("thread_ts") and m["thread_ts"] != m["ts"]]


async def wait_for(find: Any, what: str) -> Any:
    for _ in range(12_000):
        if found := find():
            return found
        await asyncio.sleep(0.005)
    raise RuntimeError(f"{what} never happened")


async def one_run(stack: Stack, index: int) -> tuple[float, float]:
    channel = stack.workspace.add_channel(f"bench-run-{index}", members=[ASKER, APPROVER])
    asked = time.perf_counter()
    await ask(stack, channel, "How does Temporal retry activities?")
    await wait_for(lambda: thread_replies(stack, channel), "the first thread message")
    first_message = time.perf_counter() - asked
    message = await wait_for(lambda: draft(stack, channel, 1), "the draft")
    view = await open_modal(stack, channel, message, "approve", ASKER)
    clicked = time.perf_counter()
    await submit(stack, view, ASKER, None)
    await wait_for(lambda: report(stack, channel), "the final report")
    return first_message, time.perf_counter() - clicked


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--burst", type=int, default=100)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    workspace = Workspace()
    for name, user_id in (("asker", ASKER), ("approver", APPROVER), ("stranger", STRANGER)):
        workspace.add_user(name, id=user_id)
    env = await start_dev_server()
    with SlackApiServer(workspace) as slack, TemporaryDirectory() as data:
        async with env:
            async with running_stack(slack, env, Path(data)) as stack:
                await one_run(stack, -1)  # warm-up: worker caches, Bolt's auth.test
                runs = [await one_run(stack, i) for i in range(args.runs)]
            firsts, finals = [r[0] for r in runs], [r[1] for r in runs]
            print(
                f"command -> first thread message: median {1000 * statistics.median(firsts):.0f} ms, max "
                f"{1000 * max(firsts):.0f} ms (target <= 1 s)"
            )
            print(
                f"approve click -> final post: median {1000 * statistics.median(finals):.0f} ms, p95 "
                f"{1000 * percentile(finals, 0.95):.0f} ms (target <= 250 ms)"
            )
            # Workers run on other machines in a deployment; here they would share the bot's two
            # cores with the new runs. The ack waits for the start, not for a worker, so none runs while
            # acks are measured.
            await ack_latency(slack, env, args.burst)


if __name__ == "__main__":
    asyncio.run(main())
