"""The /research ack under bursts, while a worker is still busy with the last bursts' runs.

    python -m bench.acks [--burst 100] [--rounds 3]

Three apps answer `/research <question>`, each in its own process on its own port, all on one task
queue served by one real `researchbot worker` (offline: no LLM endpoint, local search, SQLite
archive in a temporary folder, posting into the sandbox Slack):

- ours: `researchbot bot`, the real bot;
- A: a bare Bolt app that acks "ok" and starts nothing (bench/bare_bolt.py `ack`);
- B: a bare Bolt app that starts its workflow, then acks (bench/bare_bolt.py `start`), the naive
  durable design.

Each round sends every app a burst of N concurrent signed POST /slack/events, one app after the
other (the order turns each round, so machine noise and the worker's backlog hit all three alike).
The next burst goes as soon as the last one's runs have started, never waiting for them to finish,
so the worker, the Temporal server and the sandbox Slack are busy with earlier runs throughout.
An ack is the HTTP round trip of one request; it failed if no answer came, the answer was not 200,
or it took more than Slack's 3 seconds. Ours' ack text tells whether it says the run is queued or
researching. Every app's runs are counted on the queue by workflow id prefix at the end, so each 200
of ours and of B can be matched to a run. The load generator and the sandbox Slack share this process.
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
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from tempfile import TemporaryDirectory

from temporalio.client import Client

from bench.bare_bolt import STARTED_PREFIX
from bench.burst_client import Answer, BurstClient
from bench.profiled import DUMP_SIGNAL
from bench.slack import percentile, wait_for_health
from sandbox import SlackApiServer, User, Workspace, payloads
from tests.fakes.slack_sender import SlackSender
from tests.temporal_servers import start_dev_server

SECRET = "bench-acks-signing-secret"
SLACK_DEADLINE = 3.0  # seconds: Slack shows the user an error past this
START_DEADLINE = 2.0  # seconds: how long a durable-start listener waits for Temporal before it acks "queued"
START_WAIT = 60.0  # seconds: how long a burst's runs may take to start before the next burst goes anyway
QUESTION = "What is durable execution?"
# Settings a developer's shell may hold; the processes started here get the benchmark's own.
OWN_SETTINGS = ("TEMPORAL_", "OPENAI_", "SLACK_", "SEARCH_", "DATABASE_", "RESEARCH_", "LLM_", "METRICS_", "PORT")


@dataclass
class App:
    """One app under test, its asker (so its runs have a workflow id prefix of their own), its figures."""

    key: str
    label: str
    argv: list[str]
    user: User
    prefix: str | None  # workflow ids of the runs it starts; None: it starts none
    times: list[float] = field(default_factory=list)
    failed: int = 0
    queued: int = 0
    researching: int = 0
    answered: int = 0  # 200s, warm-up included, to set against the runs started
    cpu: float = 0.0  # CPU seconds the app's process spent on its measured bursts
    sender: SlackSender | None = None
    pid: int | None = None

    def started_query(self, queue: str) -> str:
        return f"TaskQueue = '{queue}' AND WorkflowId STARTS_WITH '{self.prefix}'"


@dataclass(frozen=True)
class Ack:
    seconds: float
    status: int | None  # None: no answer
    text: str


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def process_env(overrides: dict[str, str]) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(OWN_SETTINGS)},
        "LOG_LEVEL": "WARNING",
        **overrides,
    }


@asynccontextmanager
async def served(
    app: App, env: dict[str, str], folder: Path, burst: int, profile: Path | None
) -> AsyncIterator[SlackSender]:
    """``app`` serving /slack/events on a free port, as bench.slack.bot_process serves `researchbot bot`,
    but on the benchmark's task queue (bot_process picks a queue of its own, with no worker on it).
    With ``profile``, under cProfile (bench/profiled.py), writing ``<profile>/<key>.prof`` before it stops."""
    port = free_port()
    argv = ["-m", *app.argv]
    if profile is not None:
        argv = ["-m", "bench.profiled", str(profile.resolve() / f"{app.key}.prof"), *app.argv]
    process = subprocess.Popen(
        [sys.executable, *argv], env=process_env({**env, "PORT": str(port)}), cwd=folder, stdin=subprocess.DEVNULL
    )
    app.pid = process.pid
    sender = SlackSender(f"http://127.0.0.1:{port}", SECRET)  # for its health; bursts go from BurstClient
    try:
        await wait_for_health(sender, process)
        yield sender
    finally:
        await sender.aclose()
        if profile is not None:
            process.send_signal(DUMP_SIGNAL)
            await asyncio.sleep(1)  # time to write the profile
        process.terminate()
        process.wait(timeout=30)


def worker_process(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "researchbot", "worker", "--promote"],  # its version current once it polls
            env=process_env(env),
            cwd=log.parent,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def acks(answers: list[Answer]) -> list[Ack]:
    return [Ack(seconds, status, text) for seconds, status, text in answers]


def record(app: App, acks: list[Ack], measured: bool) -> None:
    app.answered += sum(1 for ack in acks if ack.status == 200)
    if not measured:
        return
    for ack in acks:
        app.times.append(ack.seconds)
        app.failed += ack.status != 200 or ack.seconds > SLACK_DEADLINE
        app.queued += "queued" in ack.text.lower()
        app.researching += "researching" in ack.text.lower()


async def started(client: Client, queue: str, app: App) -> int:
    return (await client.count_workflows(app.started_query(queue))).count if app.prefix else 0


async def until_started(client: Client, queue: str, app: App) -> None:
    """Wait (up to START_WAIT) for every 200 of ``app`` to be a started run; not for the runs to finish."""
    deadline = time.monotonic() + START_WAIT
    while app.prefix and await started(client, queue, app) < app.answered and time.monotonic() < deadline:
        await asyncio.sleep(0.1)


def posted_runs(workspace: Workspace) -> set[str]:
    """The workflow ids of the runs that have posted in the sandbox Slack (every post names its run)."""
    with workspace.lock:
        posts = [message for channel in workspace.messages.values() for message in channel]
    return {str(((m.get("metadata") or {}).get("event_payload") or {}).get("workflow_id")) for m in posts}


def table(apps: list[App], runs: dict[str, int], posted: set[str]) -> str:
    rows = [
        (
            "app",
            "acks",
            "median s",
            "p99 s",
            "max s",
            "failed",
            "CPU ms/ack",
            "queued",
            "researching",
            "200s",
            "started",
            "posted",
        )
    ]
    for app in apps:
        rows.append(
            (
                app.label,
                str(len(app.times)),
                f"{statistics.median(app.times):.3f}",
                f"{percentile(app.times, 0.99):.3f}",
                f"{max(app.times):.3f}",
                str(app.failed),
                f"{1000 * app.cpu / len(app.times):.1f}",
                f"{app.queued / len(app.times):.0%}" if app.key == "ours" else "-",
                f"{app.researching / len(app.times):.0%}" if app.key == "ours" else "-",
                str(app.answered),
                str(runs[app.key]) if app.prefix else "-",
                str(sum(1 for wid in posted if app.prefix and wid.startswith(app.prefix))) if app.prefix else "-",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows)


def verdict(ours: App, start_first: App) -> str:
    starts_in_time = max(start_first.times) <= START_DEADLINE
    p99_ok = percentile(ours.times, 0.99) <= percentile(start_first.times, 0.99)
    queued_ok = ours.queued == 0 or not starts_in_time
    checks = [
        f"failed acks of ours {ours.failed} (target 0): {'met' if ours.failed == 0 else 'MISSED'}",
        f"ours p99 <= B p99: {'met' if p99_ok else 'MISSED'}",
        f"queued share {ours.queued / len(ours.times):.0%} with B's starts "
        f"{'all' if starts_in_time else 'not all'} answered within {START_DEADLINE:.0f} s (target 0 when they are): "
        f"{'met' if queued_ok else 'MISSED'}",
    ]
    return "verdict: " + "; ".join(checks)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--burst", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", type=Path, help="run each app under cProfile, writing DIR/<app>.prof")
    args = parser.parse_args()
    began = time.monotonic()

    workspace = Workspace()
    ours_user, bare_user, start_user = (workspace.add_user(name) for name in ("ours", "bare-ack", "bare-start"))
    everyone = [ours_user.id, bare_user.id, start_user.id]
    # A channel per request of a burst: the worker paces its posts per channel, as Slack asks, and
    # one channel for every run would leave it idle, waiting for its turn to post.
    channels = [workspace.add_channel(f"bench-acks-{i}", members=everyone) for i in range(args.burst)]
    team = workspace.team_id
    apps = [
        App("ours", "ours: researchbot bot", ["researchbot", "bot"], ours_user, f"research-{team}-{ours_user.id}-"),
        App("A", "A: bare Bolt, ack only", ["bench.bare_bolt", "ack"], bare_user, None),
        App("B", "B: bare Bolt, start then ack", ["bench.bare_bolt", "start"], start_user, STARTED_PREFIX),
    ]

    def bodies(app: App, count: int, label: str) -> list[str]:
        return [
            payloads.command_body(
                payloads.command_form(
                    workspace,
                    channel=channels[i % len(channels)],
                    user=app.user,
                    text=f"{QUESTION} ({label} #{i})",
                    response_url=slack.response_url(channels[i % len(channels)].id, app.user.id),
                )
            )
            for i in range(count)
        ]

    def url(app: App) -> str:
        assert app.sender is not None
        return app.sender.url

    env = await start_dev_server()
    queue = f"bench-acks-{uuid.uuid4().hex[:8]}"
    with SlackApiServer(workspace) as slack, TemporaryDirectory() as data:
        folder = Path(data)
        settings = {
            "TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
            "RESEARCH_TASK_QUEUE": queue,
            "SLACK_BOT_TOKEN": workspace.bot_token,
            "SLACK_API_URL": slack.base_url,
            "SLACK_SIGNING_SECRET": SECRET,
            # A burst is a few askers starting hundreds of runs: the benchmark measures acks, not caps.
            "RESEARCH_MAX_RUNS_IN_FLIGHT": "0",
            "RESEARCH_MAX_RUNS_PER_HOUR": "0",
        }
        worker_settings = {**settings, "SEARCH_PROVIDER": "local", "DATABASE_URL": f"sqlite:///{folder}/archive.db"}
        async with env:
            worker = worker_process(worker_settings, folder / "worker.log")
            worker_cpu, burst_seconds = 0.0, 0.0
            bursts = BurstClient(SECRET)
            try:
                async with (
                    served(apps[0], settings, folder, args.burst, args.profile) as apps[0].sender,
                    served(apps[1], settings, folder, args.burst, args.profile) as apps[1].sender,
                    served(apps[2], settings, folder, args.burst, args.profile) as apps[2].sender,
                ):
                    for app in apps:  # warm-up: Bolt's auth.test, Temporal connections, the worker's first runs
                        record(app, acks(await bursts.fire(url(app), bodies(app, 5, "warm-up"))), measured=False)
                        await until_started(env.client, queue, app)
                    for round_no in range(args.rounds):
                        for app in apps[round_no % 3 :] + apps[: round_no % 3]:
                            batch = bodies(app, args.burst, f"round {round_no + 1}")
                            assert app.pid is not None
                            cpu, own, t0 = cpu_seconds(worker.pid), cpu_seconds(app.pid), time.monotonic()
                            record(app, acks(await bursts.fire(url(app), batch)), measured=True)
                            worker_cpu += cpu_seconds(worker.pid) - cpu
                            app.cpu += cpu_seconds(app.pid) - own
                            burst_seconds += time.monotonic() - t0
                            await until_started(env.client, queue, app)
                    runs = {app.key: await started(env.client, queue, app) for app in apps}
                    alive, posted = worker.poll() is None, posted_runs(workspace)
            finally:
                bursts.close()
                worker.terminate()
                try:
                    worker.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    worker.kill()
                    worker.wait()
            if not alive:
                print((folder / "worker.log").read_text()[-3000:], file=sys.stderr)
                raise RuntimeError("the worker died during the benchmark")

    ours, bare, start_first = apps
    print(
        f"/research ack, bursts of {args.burst} concurrent signed requests, {args.rounds} rounds, apps interleaved; "
        f"one `researchbot worker` busy with earlier runs (its CPU during the bursts: "
        f"{worker_cpu / burst_seconds:.0%} of a core)"
    )
    print(table(apps, runs, posted))
    print(
        "  started: runs on the queue with the app's workflow id prefix (warm-up included, as in 200s); "
        "posted: runs that had posted in Slack by the end"
    )
    print(
        f"ratios: ours p99 / B p99 = {percentile(ours.times, 0.99) / percentile(start_first.times, 0.99):.2f}x; "
        f"ours median / A median = {statistics.median(ours.times) / statistics.median(bare.times):.2f}x"
    )
    print(verdict(ours, start_first))
    print(f"wall time {time.monotonic() - began:.0f} s")


if __name__ == "__main__":
    asyncio.run(main())
