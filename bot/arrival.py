"""When the request being answered reached the bot, so a deadline for Slack's 3 seconds counts the time it
already spent waiting in a busy bot (reading its body, checking its signature, waiting for the event loop)."""

from __future__ import annotations

import time
from contextvars import ContextVar

__all__ = ["arrived", "seconds_since_arrival"]

_ARRIVED: ContextVar[float | None] = ContextVar("arrived", default=None)


def arrived(at: float | None = None) -> None:
    """Mark the arrival (now, on the monotonic clock) of the request this task answers (bot/front_door.py,
    first thing)."""
    _ARRIVED.set(time.monotonic() if at is None else at)


def seconds_since_arrival() -> float:
    """0 where no arrival was marked (Socket Mode: the envelope's own deadline starts at the listener)."""
    at = _ARRIVED.get()
    return 0.0 if at is None else max(0.0, time.monotonic() - at)
