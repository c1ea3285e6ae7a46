"""Heartbeat while an activity waits on something slow, so a dead worker is noticed in seconds."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from temporalio import activity


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
    finally:
        task.cancel()
        if details is not None:
            send()
