"""What the bot has acknowledged and not yet finished, so a stopping bot finishes it instead of dropping it.

Two kinds: starts that outlived their deadline (their askers were told "queued"), and what a listener
does after its ack (an ephemeral answer, a modal, a note in the thread). Bolt runs with
``process_before_response`` (bot/app.py): it answers Slack when the listener returns, without polling
for the ack every 10 ms as it otherwise does for each request in flight, which a burst of 100
commands pays for in CPU. So a listener acks, hands the rest to :meth:`UnderWay.after_ack`, and returns.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

import structlog
from slack_bolt.async_app import AsyncBoltContext

__all__ = ["DRAIN_SECONDS", "UnderWay", "after_ack"]

log = structlog.get_logger(__name__)

# Longer than a start may still take: bot/start_in_time.py START_WAIT, then LOOKUP_WAIT to look its run up.
DRAIN_SECONDS = 15.0


class UnderWay:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Future[Any]] = set()

    def hold(self, task: asyncio.Future[Any]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def after_ack(self, work: Coroutine[Any, Any, object], what: str) -> None:
        """Run ``work`` in the background, once the listener has returned and Bolt has answered."""
        self.hold(asyncio.ensure_future(_logged(work, what)))

    async def drain(self, timeout: float = DRAIN_SECONDS) -> None:
        if self._tasks:
            log.info("bot.finishing_work_under_way", tasks=len(self._tasks))
            await asyncio.wait(set(self._tasks), timeout=timeout)


def after_ack(context: AsyncBoltContext, work: Coroutine[Any, Any, object], what: str) -> None:
    """A listener's work after its ack, held by the bot's :class:`UnderWay` (``context["under_way"]``)."""
    under_way: UnderWay = context["under_way"]
    under_way.after_ack(work, what)


async def _logged(work: Coroutine[Any, Any, object], what: str) -> None:
    try:
        await work
    except Exception:  # nobody awaits it: the log is where it is seen
        log.exception("bot.after_ack_failed", what=what)
