"""Waiting for something another thread or process does, without asserting how long it took."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Protocol, TypeVar

__all__ = ["HasLog", "eventually"]

T = TypeVar("T")
POLL_SECONDS = 0.05


class HasLog(Protocol):
    """Something whose log explains a wait that failed (the e2e stack: its worker's log)."""

    def worker_log(self) -> str: ...


async def eventually(
    find: Callable[[], T | None], what: str, logged: HasLog | None = None, *, seconds: float = 180
) -> T:
    """Poll until ``find`` returns something truthy, and return it. ``seconds`` is a generous bound for
    a loaded machine (a wait, not a timing assertion); past it the test fails naming ``what``, with
    ``logged``'s log when given."""
    deadline = time.monotonic() + seconds
    while not (found := find()):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} never happened" + (f"; worker log:\n{logged.worker_log()}" if logged else ""))
        await asyncio.sleep(POLL_SECONDS)
    return found
