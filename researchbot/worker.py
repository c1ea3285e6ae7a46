"""The Temporal worker: builds every activity from Settings and serves the research task queue."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from datetime import timedelta

import structlog
from temporalio.client import Client
from temporalio.common import VersioningBehavior
from temporalio.service import RPCError
from temporalio.worker import Worker, WorkerDeploymentConfig

from core.settings import Settings
from researchbot.promotion import current_build_id, promote_own_worker, worker_version
from researchbot.wiring import Activities, build_activities
from workflows.exports import ReportExportWorkflow
from workflows.ratings import RatingWorkflow
from workflows.research import ResearchWorkflow

log = structlog.get_logger("researchbot.worker")

# Lets in-flight activities finish on SIGTERM before the worker exits.
GRACEFUL_SHUTDOWN = timedelta(seconds=20)
# Heartbeats go out at most this far apart. The SDK's default, 80% of the activities' 5 s heartbeat
# timeout, leaves a busy worker 1 s of slack: with 100 runs checking citations at once, 9 of 100 runs
# failed on heartbeat timeouts (bench.scale). Every 2 s leaves 3 s, and a dead worker is still noticed in 5.
HEARTBEAT_THROTTLE = timedelta(seconds=2)


def deployment_config(settings: Settings) -> WorkerDeploymentConfig | None:
    """This worker's version; its runs move to whichever version is current (docs/versioning.md)."""
    if not settings.worker_versioning:
        return None
    return WorkerDeploymentConfig(
        version=worker_version(settings),
        use_worker_versioning=True,
        default_versioning_behavior=VersioningBehavior.AUTO_UPGRADE,
    )


def build_worker(client: Client, settings: Settings, activities: Activities) -> Worker:
    return Worker(
        client,
        task_queue=settings.research_task_queue,
        workflows=[ResearchWorkflow, RatingWorkflow, ReportExportWorkflow],
        activities=activities.all(),
        graceful_shutdown_timeout=GRACEFUL_SHUTDOWN,
        max_heartbeat_throttle_interval=HEARTBEAT_THROTTLE,
        default_heartbeat_throttle_interval=HEARTBEAT_THROTTLE,
        max_cached_workflows=settings.max_cached_workflows,
        deployment_config=deployment_config(settings),
    )


async def run_worker(
    client: Client, settings: Settings, on_ready: Callable[[], None] | None = None, *, promote: bool = False
) -> None:
    """Run until SIGINT or SIGTERM, then drain: stop polling, let running activities finish. With
    ``promote``, make this worker's version current once it polls (`researchbot worker --promote`)."""
    async with build_activities(settings) as activities:
        worker = build_worker(client, settings, activities)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        version = worker_version(settings).to_canonical_string() if settings.worker_versioning else None
        log.info("worker.started", task_queue=settings.research_task_queue, version=version)
        async with worker:
            if promote:
                promoted = await promote_own_worker(client, settings)
                if promoted:
                    log.info("worker.promoted", version=version, previous_build_id=promoted.previous_build_id)
            elif settings.worker_versioning:
                await _warn_unless_current(client, settings)
            if on_ready:
                on_ready()
            await stop.wait()
            log.info("worker.draining")
        log.info("worker.stopped")


async def _warn_unless_current(client: Client, settings: Settings) -> None:
    """A versioned worker whose version is not current gets no runs: say so, once, where an operator looks."""
    try:
        current, _ = await current_build_id(client, settings.worker_deployment_name)
    except RPCError:  # a deployment none of whose workers has polled yet
        current = None
    if current != settings.worker_build_id:
        log.warning(
            "worker.not_current",
            version=worker_version(settings).to_canonical_string(),
            current_build_id=current,
            hint="it gets runs once promoted: researchbot promote (or start it with --promote)",
        )
