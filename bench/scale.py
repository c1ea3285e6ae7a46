"""Many runs waiting for review in one workspace: how long a click waits behind everything else a
worker writes to Slack. Against the sandbox Slack enforcing Slack's rate tiers, real `researchbot
worker` processes (offline model, local search) and the bot in this process.

    python -m bench.scale [--runs 100] [--approvals 20] [--workers 1|2] [--channels 10] [--click-every 3]
                          [--baseline] [--database-url postgresql://user@host/db]

``--runs`` runs are asked at once, spread over ``--channels`` channels; as soon as all of them wait
for review, ``--approvals`` of them are approved through the bot (Approve → modal → submit), one
every ``--click-every`` seconds, while the workers still work through the other runs' refreshes.
(Slack's chat.update budget, Tier 3, is 50 a minute per workspace, and each approval takes two of
them: the draft's buttons and the root's outcome; clicks much faster than one every 2.4 s queue.)
Measured:

- click (the modal's submission) → the decision visible (the draft's buttons replaced): p95, target ≤ 2 s;
- click → the final report posted: p95, target ≤ 1 s;
- each run's progress message (its streamed task cards, or the checklist where it fell back to
  one) in its final state after the run's last waited-for post (the draft, or the report of an
  approved run): max, as a ratio to Slack's floor (below);
- Slack writes lost and doubled, message by message: each run's step keys in message metadata,
  every expected one present exactly once;
- the 429s the sandbox answered past the tiers, per method;
- Slack's floor for that progress measure (bench/slack_floor.py: the least largest lag the tiers allow
  for the writes this burst needed, when it needed them) and the measure's ratio to it, target ≤ 1.1×;
- the calls the workers made per run, by method and tier (accepted by Slack; 429s apart).

``--workers`` 1 and 2 are measured by default in turn; ``--baseline`` also measures the writes of
one worker in one FIFO line (bench/fifo_worker.py: no classes, no coalescing), as before.

``--database-url`` (else DATABASE_URL) gives the workers a PostgreSQL database, as a team runs several
workers: they then share Slack's budget through it (activities/slack/shared_budget.py). Each measure gets a
schema of its own, dropped afterwards. Without it, each worker has its own SQLite archive and budget.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import psycopg
import sqlalchemy as sa
from temporalio.testing import WorkflowEnvironment

from activities.archive.store import ArchiveStore
from activities.slack.limits import BUDGETS
from activities.slack.lookup import STEP_EVENT
from bench.slack import percentile
from bench.slack_floor import Write, floor
from core import temporal
from researchbot.cli import exit_now
from sandbox import Channel, SlackApiServer, Workspace
from sandbox.slack_api import RATE_LIMITS, TIER_2, TIER_3, TIER_4
from slack_ui import thread
from slack_ui.stream import progress_chunks
from tests.e2e.slack_stack import (
    APPROVER,
    ASKER,
    REPO,
    STRANGER,
    Stack,
    ask,
    open_modal,
    submit,
    worker_env,
)
from tests.temporal_servers import start_dev_server
from workflows.research import ResearchWorkflow

TIMEOUT = 900.0  # seconds any one phase may take before the benchmark gives up
# Of Tier 3's burst, what a progress message's final state may spend (a checklist's is a chat.update).
PROGRESS_BURST = BUDGETS["chat.update"].informing_burst(final=True)
_EVENT = re.compile(r"\[(?:warning|error|critical)\s*\]\s+(\S+)")  # a worker's console log line
_CANCELLED = re.compile(r"activity\.cancelled\s.*?activity=(\S+).*?why=(\S+)")  # activities/heartbeat.py
_FAILED_ACTIVITY = re.compile(r"Completing activity as failed.*?'activity_type': '([^']+)'")  # Temporal's line
_RAISED = re.compile(r"^[A-Za-z_.]+(?:Error|Exception|Timeout|Lost|Late)\b")  # a traceback's last line


# Questions the shipped corpus/ answers offline, so each draft offers Approve (a run that found
# nothing to cite offers only Revise and Reject). Each command is its own run, whatever its question.
QUESTIONS = (
    "How does Temporal retry activities?",
    "What is a Temporal task queue?",
    "How do Slack apps verify request signatures?",
    "What does a Temporal worker do?",
)


def _digest(blocks: Any) -> str:
    return hashlib.sha256(json.dumps(blocks, sort_keys=True).encode()).hexdigest()


def _shown(chunks: list[dict[str, Any]]) -> str:
    """What a streamed message shows: the latest plan title and the latest card of each task id."""
    title, cards = "", {}
    for chunk in chunks:
        if chunk["type"] == "plan_update":
            title = chunk["title"]
        elif chunk["type"] == "task_update":
            cards[chunk["id"]] = chunk
    return _digest({"title": title, "cards": cards})


@dataclass
class Seen:
    """What the watcher saw of one run, with the time.perf_counter() it first saw it."""

    channel: str
    draft: dict[str, Any] | None = None  # the draft message while it has its buttons
    draft_at: float | None = None
    decided_at: float | None = None  # the draft's buttons replaced
    report_at: float | None = None
    progress: list[tuple[float, str]] = field(default_factory=list)  # (when, digest of its blocks)
    streamed: list[tuple[float, str]] = field(default_factory=list)  # (when, digest of what its stream shows)
    root_ts: str | None = None
    steps: Counter[str] = field(default_factory=Counter)

    @property
    def shown(self) -> list[tuple[float, str]]:
        """The progress message's states: the checklist where the run fell back to one, else its stream."""
        return self.progress or self.streamed


class Watcher:
    """Reads the sandbox's messages every few milliseconds and notes when each run's messages change."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.runs: dict[str, Seen] = {}

    def scan(self) -> None:
        now = time.perf_counter()
        steps: dict[str, Counter[str]] = defaultdict(Counter)
        with self.workspace.lock:
            for channel_id, messages in self.workspace.messages.items():
                roots = {s.root_ts: s for s in self.runs.values() if s.root_ts}
                for message in messages:
                    if "stream" in message and (seen := roots.get(message.get("thread_ts"))) is not None:
                        shown = _shown(message["stream"]["chunks"])
                        if not seen.streamed or seen.streamed[-1][1] != shown:
                            seen.streamed.append((now, shown))
                        continue
                    metadata = message.get("metadata") or {}
                    if metadata.get("event_type") != STEP_EVENT:
                        continue
                    workflow_id, step = metadata["event_payload"]["workflow_id"], metadata["event_payload"]["step"]
                    seen = self.runs.setdefault(workflow_id, Seen(channel_id))
                    steps[workflow_id][step] += 1
                    blocks = message.get("blocks") or []
                    if step == "root":
                        seen.root_ts = message["ts"]
                    if step == "draft-1":
                        buttons = any(b["type"] == "actions" for b in blocks)
                        if buttons and seen.draft_at is None:
                            seen.draft, seen.draft_at = json.loads(json.dumps(message)), now
                        elif not buttons and seen.draft_at is not None and seen.decided_at is None:
                            seen.decided_at = now
                    elif step == "final" and seen.report_at is None:
                        seen.report_at = now
                    elif step == "progress":
                        digest = _digest(blocks)
                        if not seen.progress or seen.progress[-1][1] != digest:
                            seen.progress.append((now, digest))
        for workflow_id, counted in steps.items():
            self.runs[workflow_id].steps = counted

    async def watch(self) -> None:
        while True:
            self.scan()
            await asyncio.sleep(0.02)


async def wait_until(condition: Any, what: str, timeout: float = TIMEOUT) -> None:
    deadline = time.perf_counter() + timeout
    while not condition():
        if time.perf_counter() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


def start_worker(stack: Stack, name: str, fifo: bool) -> subprocess.Popen[bytes]:
    env = {
        **worker_env(stack.slack, stack.env, stack.queue, stack.data),
        "LOG_LEVEL": "WARNING",
        **stack.worker_settings,
    }
    module = "bench.fifo_worker" if fifo else "researchbot"
    with (stack.data / f"{name}.log").open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", module, "worker"],
            env={**env, "PYTHONPATH": str(REPO)},
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )


@asynccontextmanager
async def scale_stack(
    slack: SlackApiServer, env: WorkflowEnvironment, data: Path, workers: int, fifo: bool, database_url: str | None
) -> AsyncIterator[Stack]:
    address = env.client.service_client.config.target_host
    stack = Stack(slack, env, f"scale-{uuid.uuid4().hex[:8]}", data, await temporal.connect({"target_host": address}))
    if database_url is not None:
        stack.worker_settings["DATABASE_URL"] = database_url
        # Migrated before anyone asks: the bot reads and writes its tables from the first command on.
        store = ArchiveStore(database_url)
        store.migrate()
        store.dispose()
    processes = [start_worker(stack, f"worker-{n}", fifo) for n in range(workers)]
    try:
        await stack.promote_worker()
        await stack.start_bot()
        yield stack
    finally:
        await stack.stop_bot()
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()


@dataclass
class Result:
    label: str
    workers: int
    drafts_seconds: float
    decided: list[float]
    reported: list[float]
    progress_lag: list[float]
    progress_not_final: int
    lost: int
    doubled: int
    rate_limited: dict[str, int]
    streamed: int = 0  # runs whose progress message is a stream (the others fell back to the checklist)
    shared: bool = False  # the workers shared Slack's budget through PostgreSQL
    floor: float = 0.0  # Slack's floor under the largest progress lag (bench/slack_floor.py)
    floor_kept: float = 0.0  # the same, with the clicks' share of each burst kept for them (PROGRESS_BURST)
    calls: Counter[str] = field(default_factory=Counter)  # calls Slack accepted, per method
    runs: int = 0
    worst: list[str] = field(default_factory=list)  # the latest progress messages, for a reader who asks why

    @property
    def ratio(self) -> str:
        """The largest progress lag over Slack's floor; none where the tiers set no floor (a small burst)."""
        if self.floor < 1.0:
            return "— (the tiers were not the limit)"
        return f"{max(self.progress_lag, default=0.0) / self.floor:.2f}×"

    @property
    def kept_ratio(self) -> str:
        """The same lag over the floor of a scheduler that keeps the clicks' share of the burst."""
        if self.floor_kept < 1.0:
            return "—"
        return f"{max(self.progress_lag, default=0.0) / self.floor_kept:.2f}×"


async def measure(
    env: WorkflowEnvironment,
    *,
    runs: int,
    approvals: int,
    workers: int,
    channels: int,
    fifo: bool,
    click_every: float,
    database_url: str | None = None,
) -> Result:
    workspace = Workspace(team_id=f"T{uuid.uuid4().hex[:8].upper()}")
    for name, user_id in (("asker", ASKER), ("approver", APPROVER), ("stranger", STRANGER)):
        workspace.add_user(name, id=user_id)
    rooms = [workspace.add_channel(f"scale-{n}", members=[ASKER, APPROVER]) for n in range(channels)]
    watcher = Watcher(workspace)
    with (
        SlackApiServer(workspace, enforce_rate_limits=True) as slack,
        TemporaryDirectory() as data,
        own_schema(database_url) as database,
    ):
        async with scale_stack(slack, env, Path(data), workers, fifo, database) as stack:
            watching = asyncio.create_task(watcher.watch())
            try:
                result = await _measure(stack, watcher, rooms, runs, approvals, workers, fifo, click_every)
            finally:
                watching.cancel()
                _show_budget_warnings(Path(data))
    result.shared = database is not None
    return result


def _show_budget_warnings(data: Path) -> None:
    """The workers' lines about the shared budget (a database that did not answer in time): a measure
    with 429s is explained by them."""
    for log in sorted(data.glob("worker-*.log")):
        lines = log.read_text(errors="replace").splitlines()
        budget = [line for line in lines if "slack_budget" in line]
        if budget:
            print(f"{log.name}: {len(budget)} lines about the shared budget, first: {budget[0][:300]}", flush=True)
        events = Counter(match.group(1) for line in lines if (match := _EVENT.search(line)))
        if events:
            print(f"{log.name}: warnings and errors by event: {dict(events.most_common(8))}", flush=True)
        cancelled = Counter(match.group(1, 2) for line in lines if (match := _CANCELLED.search(line)))
        if cancelled:
            print(f"{log.name}: attempts cancelled, by (activity, why): {dict(cancelled.most_common(8))}", flush=True)
        failed = Counter(match.group(1) for line in lines if (match := _FAILED_ACTIVITY.search(line)))
        if failed:
            print(f"{log.name}: activity attempts failed, by type: {dict(failed.most_common(8))}", flush=True)
            errors = Counter(line.strip()[:160] for line in lines if _RAISED.match(line))
            print(f"{log.name}: what they raised: {dict(errors.most_common(4))}", flush=True)


@contextlib.contextmanager
def own_schema(database_url: str | None) -> Iterator[str | None]:
    """A fresh PostgreSQL schema for one measure (its archive and its Slack budget), dropped afterwards."""
    if database_url is None:
        yield None
        return
    schema = f"bench_scale_{uuid.uuid4().hex[:12]}"
    url = sa.make_url(database_url).set(drivername="postgresql")  # as libpq (psycopg) reads it
    libpq = url.render_as_string(hide_password=False)
    with psycopg.connect(libpq, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(libpq, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA "{schema}" CASCADE')


async def _measure(
    stack: Stack,
    watcher: Watcher,
    rooms: list[Channel],
    runs: int,
    approvals: int,
    workers: int,
    fifo: bool,
    click_every: float,
) -> Result:
    slack = stack.slack
    asked = time.perf_counter()
    limit = asyncio.Semaphore(10)

    async def one(n: int) -> None:
        async with limit:
            response = await ask(stack, rooms[n % len(rooms)], QUESTIONS[n % len(QUESTIONS)])
            assert response.status_code == 200, response.text

    await asyncio.gather(*(one(n) for n in range(runs)))
    await wait_until(lambda: sum(1 for s in watcher.runs.values() if s.draft_at is not None) >= runs, f"{runs} drafts")
    drafts_seconds = time.perf_counter() - asked

    # Approve every (runs // approvals)-th run, one click after the other, as people would.
    # Drafts that can be approved: one that declined (nothing to cite) offers Revise and Reject only.
    waiting = sorted(
        ((w, s) for w, s in watcher.runs.items() if s.draft is not None and _approvable(s.draft)),
        key=lambda item: item[1].draft_at or 0.0,
    )
    chosen = waiting[:: max(1, len(waiting) // approvals)][:approvals]
    by_id = {room.id: room for room in rooms}
    clicked: dict[str, float] = {}
    start = time.perf_counter()
    for n, (workflow_id, seen) in enumerate(chosen):
        assert seen.draft is not None
        await asyncio.sleep(max(0.0, start + n * click_every - time.perf_counter()))
        view = await open_modal(stack, by_id[seen.channel], seen.draft, "approve", ASKER)
        clicked[workflow_id] = time.perf_counter()
        response = await submit(stack, view, ASKER, None)
        assert response.status_code == 200, response.text
    with contextlib.suppress(RuntimeError):  # what never showed counts as infinitely late
        await wait_until(
            lambda: all(watcher.runs[w].report_at and watcher.runs[w].decided_at for w in clicked), "the reports"
        )

    # Every progress message in its final state: what the run's status says now.
    expected: dict[str, str] = {}
    for workflow_id, seen in watcher.runs.items():
        handle = stack.client.get_workflow_handle_for(ResearchWorkflow.run, workflow_id)
        status = await handle.query(ResearchWorkflow.status)
        if seen.progress or not seen.streamed:
            expected[workflow_id] = _digest(thread.progress_message(status)["blocks"])
        else:
            expected[workflow_id] = _shown(progress_chunks(status))

    def settled() -> bool:
        return all(s.shown and s.shown[-1][1] == expected[w] for w, s in watcher.runs.items())

    with contextlib.suppress(RuntimeError):  # counted below as not final
        await wait_until(settled, "every checklist in its final state", timeout=300)
    watcher.scan()

    lags, not_final, lost, doubled, streams = [], 0, 0, 0, 0
    late: list[tuple[float, float, float, int, bool]] = []
    doubled_steps: list[str] = []
    needed = [Write("chat.update", at, click=True) for at in clicked.values() for _ in ("buttons", "root")]
    for workflow_id, seen in watcher.runs.items():
        ready = seen.report_at if workflow_id in clicked else seen.draft_at
        if ready is not None:
            method = "chat.appendStream" if seen.streamed and not seen.progress else "chat.update"
            needed.append(Write(method, ready))
        shown = seen.shown
        if not shown or shown[-1][1] != expected[workflow_id]:
            not_final += 1
            kind = "checklist" if seen.progress else "stream" if seen.streamed else "nothing"
            last = f"last at +{shown[-1][0] - asked:.1f} s" if shown else "none shown"
            print(f"not final: {workflow_id} ({kind}, {len(shown)} states, {last})", flush=True)
        else:
            after = seen.report_at if workflow_id in clicked else seen.draft_at
            lags.append(max(0.0, shown[-1][0] - (after or shown[-1][0])))
            late.append((lags[-1], after or 0.0, shown[-1][0], len(shown), workflow_id in clicked))
        streams += bool(seen.streamed) and not seen.progress
        wanted = {"root", "plan-1", "draft-1"} | ({"final"} if workflow_id in clicked else set())
        lost += len(wanted - set(seen.steps)) + (not shown)
        twice = [step for step, count in seen.steps.items() if count > 1]
        doubled += len(twice)
        doubled_steps.extend(f"{workflow_id[-8:]}:{step}" for step in twice)
    lost += max(0, runs - len(watcher.runs)) * 4
    if late:
        _explain_latest(slack, watcher, max(late))
    if doubled_steps:
        print("steps posted more than once (run:step):", ", ".join(doubled_steps), flush=True)
    return Result(
        label="one FIFO line" if fifo else "waited first",
        workers=workers,
        drafts_seconds=drafts_seconds,
        decided=[_since(watcher.runs[w].decided_at, t) for w, t in clicked.items()],
        reported=[_since(watcher.runs[w].report_at, t) for w, t in clicked.items()],
        progress_lag=lags,
        progress_not_final=not_final,
        lost=lost,
        doubled=doubled,
        rate_limited=dict(slack.rate_limited),
        streamed=streams,
        floor=floor(needed, RATE_LIMITS),
        floor_kept=floor(needed, RATE_LIMITS, progress_burst=PROGRESS_BURST),
        calls=Counter(call.method for call in slack.calls) - slack.rate_limited,
        runs=runs,
        worst=[
            f"lag {lag:.1f} s: ready at +{ready - asked:.1f} s, final at +{final - asked:.1f} s, "
            f"{states} states shown{', approved' if approved else ''}"
            for lag, ready, final, states, approved in sorted(late, reverse=True)[:5]
        ],
    )


def _explain_latest(slack: SlackApiServer, watcher: Watcher, latest: tuple[float, float, float, int, bool]) -> None:
    """What chat.update carried while the latest progress message waited: by the step of the message
    updated, and whether that run's draft was out then."""
    _, ready, final, _, _ = latest
    steps: dict[tuple[str, str], tuple[str, str]] = {}
    with slack.workspace.lock:
        for channel, messages in slack.workspace.messages.items():
            for message in messages:
                payload = (message.get("metadata") or {}).get("event_payload") or {}
                if "step" in payload:
                    steps[(channel, message["ts"])] = (payload["workflow_id"], payload["step"])
    first_draft = min((s.draft_at for s in watcher.runs.values() if s.draft_at is not None), default=ready)
    for label, start, end in (("before it was ready", first_draft, ready), ("while it waited", ready, final)):
        counted: Counter[str] = Counter()
        for call in slack.calls_to("chat.update"):
            if start <= call.at <= end:
                key = (call.params.get("channel", ""), call.params.get("ts", ""))
                workflow_id, step = steps.get(key, ("?", "?"))
                seen = watcher.runs.get(workflow_id)
                out = seen is not None and seen.draft_at is not None and seen.draft_at <= call.at
                counted[f"{step.split('-')[0]} ({'after' if out else 'before'} its draft)"] += 1
        print(f"chat.update calls {label} ({end - start:.1f} s, from the first draft):", dict(counted), flush=True)


def _approvable(draft: dict[str, Any]) -> bool:
    actions = [b for b in draft.get("blocks") or [] if b["type"] == "actions"]
    return any(e.get("action_id") == "approve" for b in actions for e in b["elements"])


def _since(seen: float | None, clicked: float) -> float:
    return float("inf") if seen is None else seen - clicked


def table(results: list[Result], runs: int, approvals: int, click_every: float) -> str:
    head = (
        f"{runs} runs waiting for review, {approvals} approved one every {click_every:g} s; "
        "sandbox Slack enforcing Slack's tiers\n"
        "| writes | workers | all drafts | click→decision p95 (≤2 s) | click→report p95 (≤1 s) "
        "| progress final, max | Slack's floor | ratio (≤1.1×) | lost | doubled | 429s |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|"
    )
    rows = []
    for r in results:
        lag = (
            f"{max(r.progress_lag):.1f} s (p50 {percentile(r.progress_lag, 0.5):.1f} s, "
            f"p95 {percentile(r.progress_lag, 0.95):.1f} s)"
            if r.progress_lag
            else "—"
        )
        if r.progress_not_final:
            lag += f" ({r.progress_not_final} not final)"
        lag += f"; {r.streamed} streamed"
        limited = ", ".join(f"{m} {n}" for m, n in sorted(r.rate_limited.items())) or "0"
        label = f"{r.label}, shared PostgreSQL budget" if r.shared else r.label
        rows.append(
            f"| {label} | {r.workers} | {r.drafts_seconds:.0f} s | {percentile(r.decided, 0.95):.2f} s "
            f"| {percentile(r.reported, 0.95):.2f} s | {lag} | {r.floor:.1f} s | {r.ratio} "
            f"| {r.lost} | {r.doubled} | {limited} |"
        )
    return "\n".join([head, *rows])


TIERS = {TIER_2: "Tier 2", TIER_3: "Tier 3", TIER_4: "Tier 4"}


def calls_per_run(result: Result) -> str:
    """The calls Slack accepted, per run, by method, with each method's tier."""
    rows = []
    for method, count in sorted(result.calls.items(), key=lambda item: (-item[1], item[0])):
        limit = RATE_LIMITS.get(method)
        tier = TIERS.get(limit, "1 a second per channel" if limit and limit.per_channel else "—")
        rows.append(f"{method} {count / result.runs:.2f} ({tier})")
    label = f"{result.label}, {result.workers} worker{'s' * (result.workers > 1)}"
    return f"calls per run ({label}): " + ", ".join(rows)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--approvals", type=int, default=20)
    parser.add_argument("--workers", type=int, choices=(1, 2), action="append")
    parser.add_argument("--channels", type=int, default=10)
    parser.add_argument("--click-every", type=float, default=3.0, help="seconds between two approvals")
    parser.add_argument("--baseline", action="store_true", help="also measure one worker with one FIFO line")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL") or None,
        help="PostgreSQL for the workers, which then share Slack's budget (default: DATABASE_URL, else SQLite)",
    )
    args = parser.parse_args()
    if args.database_url is not None and not args.database_url.startswith("postgres"):
        args.database_url = None  # a SQLite DATABASE_URL: each worker keeps its own archive, as without one
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    plans = [(workers, False) for workers in (args.workers or [1, 2])] + ([(1, True)] if args.baseline else [])
    env = await start_dev_server()
    results = []
    async with env:
        for workers, fifo in plans:
            result = await measure(
                env,
                runs=args.runs,
                approvals=args.approvals,
                workers=workers,
                channels=args.channels,
                fifo=fifo,
                click_every=args.click_every,
                database_url=args.database_url,
            )
            results.append(result)
            print(table([result], args.runs, args.approvals, args.click_every).splitlines()[-1], flush=True)
    print(table(results, args.runs, args.approvals, args.click_every))
    for result in results:
        print(calls_per_run(result))
        print(
            f"floor keeping the clicks' share of the burst (progress writes spend {PROGRESS_BURST} of it): "
            f"{result.floor_kept:.1f} s, ratio {result.kept_ratio}"
        )
        print("latest progress messages (seconds since the first ask):", *result.worst, sep="\n  ")


if __name__ == "__main__":
    asyncio.run(main())
    exit_now(0)  # past the figures, the Temporal runtime's threads must not abort the interpreter's teardown
