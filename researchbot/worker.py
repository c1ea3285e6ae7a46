"""The Temporal worker: builds every activity from Settings and serves the research task queue."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from datetime import timedelta

import structlog
from temporalio.client import Client
from temporalio.worker import Worker

from core.settings import Settings
from researchbot.wiring import Activities, build_activities
from workflows.ratings import RatingWorkflow
from workflows.research import ResearchWorkflow

log = structlog.get_logger("researchbot.worker")

# Lets in-flight activities finish on SIGTERM before the worker exits.
GRACEFUL_SHUTDOWN = timedelta(seconds=20)
# Heartbeats go out at most this far apart. The SDK's default, 80% of the activities' 5 s heartbeat
# timeout, leaves a busy worker 1 s of slack: with 100 runs checking citations at once, 9 of 100 runs
# failed on heartbeat timeouts (bench.scale). Every 2 s leaves 3 s, and a dead worker is still noticed in 5.
HEARTBEAT_THROTTLE = timedelta(seconds=2)


def build_worker(client: Client, settings: Settings, activities: Activities) -> Worker:
    return Worker(
        client,
        task_queue=settings.research_task_queue,
        workflows=[ResearchWorkflow, RatingWorkflow],
        activities=activities.all(),
        graceful_shutdown_timeout=GRACEFUL_SHUTDOWN,
        max_heartbeat_throttle_interval=HEARTBEAT_THROTTLE,
        default_heartbeat_throttle_interval=HEARTBEAT_THROTTLE,
        max_cached_workflows=settings.max_cached_workflows,
    )


async def run_worker(client: Client, settings: Settings, on_ready: Callable[[], None] | None = None) -> None:
    """Run until SIGINT or SIGTERM, then drain: stop polling, let running activities finish."""
    async with build_activities(settings) as activities:
        worker = build_worker(client, settings, activities)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        log.info("worker.started", task_queue=settings.research_task_queue)
        async with worker:
            if on_ready:
                on_ready()
            await stop.wait()
            log.info("worker.draining")
        log.info("worker.stopped")
