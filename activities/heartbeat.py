"""Heartbeat while an activity waits on something slow, so a dead worker is noticed in seconds."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import structlog
from temporalio import activity

log = structlog.get_logger(__name__)


@asynccontextmanager
async def heartbeating(every: float = 1.0, details: Callable[[], object] | None = None) -> AsyncIterator[None]:
    """Send heartbeats in the background for the duration of the block (no-op outside an activity).

    With ``details``, each heartbeat carries its current value, and a last one is sent on the way out
    (even on failure), so the next attempt reads the newest from ``activity.info().heartbeat_details``."""
    if not activity.in_activity():
        yield
        return

    def send() -> None:
        activity.heartbeat(*(() if details is None else (details(),)))

    async def beat() -> None:
        while True:
            send()
            await asyncio.sleep(every)

    task = asyncio.create_task(beat())
    try:
        yield
    except asyncio.CancelledError:
        # Why Temporal took the attempt away: a timeout here on a live worker means its event loop was too
        # busy to heartbeat (the attempt is retried: work redone), which an operator should see.
        info = activity.info()
        log.warning("activity.cancelled", activity=info.activity_type, attempt=info.attempt, why=_why())
        raise
    finally:
        task.cancel()
        if details is not None:
            send()


def _why() -> str:
    details = activity.cancellation_details()
    if details is None:
        return "unknown"
    reasons = ("timed_out", "cancel_requested", "worker_shutdown", "not_found", "paused", "reset")
    return ",".join(reason for reason in reasons if getattr(details, reason)) or "unknown"
