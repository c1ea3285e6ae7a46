"""Engine benchmarks: ratios against a baseline measured in the same run, on the same Temporal server.

    python -m bench.engine [--runs 20]

1. Per-step cost: a ResearchWorkflow run with instant fake activities, per activity it executes,
   against a plain workflow that runs the same number of no-op activities one after another.
2. Whole-run overhead: wall time from start to final result of a run with instant LLM and search
   (approval sent as soon as the draft waits), which is all orchestration.
Recovery after SIGKILL is in bench/crash.py; parked runs' memory in bench/parked.py.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid

from temporalio.client import Client
from temporalio.worker import Worker

from bench.plain_workflow import PlainWorkflow, noop
from tests.fakes.activities import FakeActivities
from tests.temporal_servers import start_dev_server
from tests.workflows.helpers import decision, start_run, wait_for_stage
from workflows.models import DecisionKind, Stage
from workflows.research import ResearchWorkflow


async def research_once(client: Client, queue: str) -> float:
    started = time.perf_counter()
    handle = await start_run(client, queue)
    status = await wait_for_stage(handle, Stage.AWAITING_DECISION, tries=2000)
    await handle.execute_update(ResearchWorkflow.decide, decision(DecisionKind.APPROVE, draft_round=status.draft_round))
    await handle.result()
    return time.perf_counter() - started


async def plain_once(client: Client, queue: str, steps: int) -> float:
    started = time.perf_counter()
    await client.execute_workflow(PlainWorkflow.run, steps, id=f"plain-{uuid.uuid4().hex[:10]}", task_queue=queue)
    return time.perf_counter() - started


async def per_step_and_overhead(client: Client, runs: int) -> None:
    fakes, queue = FakeActivities(), f"bench-{uuid.uuid4().hex[:8]}"
    async with Worker(
        client, task_queue=queue, workflows=[ResearchWorkflow, PlainWorkflow], activities=[*fakes.all(), noop]
    ):
        await research_once(client, queue)  # warm-up
        steps = sum(fakes.calls.values())
        research_times, plain_times = [], []
        for _ in range(runs):  # interleaved, so machine noise hits both alike
            research_times.append(await research_once(client, queue))
            plain_times.append(await plain_once(client, queue, steps))
    research, plain = statistics.median(research_times), statistics.median(plain_times)
    print(f"activities per research run: {steps}")
    print(
        f"per-step cost: research {1000 * research / steps:.1f} ms, plain {1000 * plain / steps:.1f} ms, ratio "
        f"{research / plain:.2f}x (target <= 1.1x)"
    )
    print(
        f"whole-run orchestration overhead (instant LLM/search, incl. the approval round trip): median {research:.3f} "
        "s (target <= 1 s)"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    env = await start_dev_server()
    async with env:
        await per_step_and_overhead(env.client, args.runs)


if __name__ == "__main__":
    asyncio.run(main())
