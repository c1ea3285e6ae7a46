"""Runs parked awaiting a decision: the memory of one `researchbot worker` process holding N of them.

    python -m bench.parked [--runs 10000] [--cache 250]

The worker runs as an operator runs it (its own process, offline LLM, local search, SQLite
archive) against the embedded Temporal dev server. This process starts N runs and waits until each
has its draft and waits for a person, then reads the worker's RSS. The baseline in the same run is
the same worker's RSS after one warm-up run. A sample of the oldest runs is then approved, to show
that runs evicted from the worker's cache still finish (they replay from history).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from tempfile import TemporaryDirectory

import psutil
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from tests.temporal_servers import start_dev_server
from tests.workflows.helpers import decision, start_run, wait_for_stage
from workflows.models import DecisionKind, Outcome, Stage
from workflows.research import ResearchWorkflow

TARGET_MB = 300
Handle = WorkflowHandle[ResearchWorkflow, object]


def start_worker(env: WorkflowEnvironment, queue: str, data: Path, cache: int) -> subprocess.Popen[bytes]:
    prefixes = (
        "TEMPORAL_",
        "OPENAI_",
        "SLACK_",
        "SEARCH_",
        "DATABASE_",
        "RESEARCH_",
        "LLM_",
        "APPROVAL_",
        "MAX_",
        "METRICS_",
    )
    worker_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(prefixes)},
        "TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
        "RESEARCH_TASK_QUEUE": queue,
        "DATABASE_URL": f"sqlite:///{data}/archive.db",
        "MAX_CACHED_WORKFLOWS": str(cache),
        "LOG_LEVEL": "WARNING",
    }
    log = (data / "worker.log").open("ab")
    # Run from the temporary folder, so a developer's .env (a real LLM key, say) is not read.
    return subprocess.Popen(
        [sys.executable, "-m", "researchbot", "worker", "--promote"],  # its version current once it polls
        env=worker_env,
        cwd=data,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )


def rss_mb(process: psutil.Process) -> float:
    return process.memory_info().rss / 2**20


async def park(client: Client, queue: str, count: int, worker: psutil.Process, concurrency: int = 40) -> list[Handle]:
    """Start `count` runs, `concurrency` at a time, each until its draft waits for a decision."""
    handles: list[Handle] = []
    semaphore = asyncio.Semaphore(concurrency)
    step = max(count // 10, 1)
    started = time.perf_counter()

    async def one() -> None:
        async with semaphore:
            handle = await start_run(client, queue)
            await wait_for_stage(handle, Stage.AWAITING_DECISION, tries=100_000, every=0.25)
            handles.append(handle)
            if len(handles) % step == 0:
                print(
                    f"  {len(handles):>6} parked after {time.perf_counter() - started:5.0f} s: worker RSS "
                    f"{rss_mb(worker):.0f} MB",
                    flush=True,
                )

    await asyncio.gather(*(one() for _ in range(count)))
    return handles


async def approve(handles: list[Handle]) -> list[float]:
    """Approve each run (they left the worker's cache long ago) and time until its result."""
    times = []
    for handle in handles:
        clicked = time.perf_counter()
        status = await handle.query(ResearchWorkflow.status)
        await handle.execute_update(
            ResearchWorkflow.decide, decision(DecisionKind.APPROVE, draft_round=status.draft_round)
        )
        result = await handle.result()
        assert result.outcome == Outcome.APPROVED, result
        times.append(time.perf_counter() - clicked)
    return times


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--cache", type=int, default=250, help="the worker's MAX_CACHED_WORKFLOWS")
    parser.add_argument(
        "--approve", type=int, default=10, help="how many of the oldest parked runs to approve at the end"
    )
    args = parser.parse_args()
    env = await start_dev_server()
    queue = f"parked-{uuid.uuid4().hex[:8]}"
    with TemporaryDirectory() as data:
        async with env:
            child = start_worker(env, queue, Path(data), args.cache)
            try:
                worker = psutil.Process(child.pid)
                await park(env.client, queue, 1, worker)  # warm-up: imports, connections, the corpus index
                baseline = rss_mb(worker)
                print(f"worker RSS after one warm-up run: {baseline:.0f} MB (cache {args.cache} runs)")
                handles = await park(env.client, queue, args.runs, worker)
                await asyncio.sleep(2)  # the last workflow tasks settle
                parked = rss_mb(worker)
                approved = await approve(handles[: args.approve])
            finally:
                child.terminate()
                child.wait(timeout=60)
    per_run_kb = (parked - baseline) * 1024 / args.runs
    verdict = "met" if parked <= TARGET_MB else "NOT met"
    print(
        f"parked runs: {args.runs} awaiting a decision on one worker (cache {args.cache}): RSS {baseline:.0f} MB -> "
        f"{parked:.0f} MB "
        f"({parked / baseline:.2f}x the warm worker, {per_run_kb:.1f} KB a run); target <= {TARGET_MB} MB: {verdict}"
    )
    print(
        f"approving {len(approved)} of the oldest parked runs (replayed from history): median "
        f"{1000 * statistics.median(approved):.0f} ms to the result"
    )


if __name__ == "__main__":
    asyncio.run(main())
