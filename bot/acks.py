"""Acks before work that can wait: Slack's 3-second deadline is hard, a run's first post is not.

:class:`PendingAcks` counts the requests from Slack still waiting for their HTTP answer. A listener
that has acked and still has work to do (starting a workflow) awaits :meth:`PendingAcks.settled`
first: it returns once every request has had its answer and no new one came for a short quiet
spell. So under a burst of commands every ack goes out as fast as a `help` does, and the runs start
right after the burst (bench/slack.py measures both). HTTP requests are counted by the ASGI
middleware from :meth:`PendingAcks.track`, Socket Mode envelopes by :meth:`PendingAcks.answering`
(bot/server.py). Work done under :meth:`PendingAcks.after_ack` is also what
:meth:`PendingAcks.drain` waits for when the bot stops, so a command that was acked is not lost to a
restart.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["PendingAcks"]

# Requests of a burst arrive spread out; a gap shorter than this is not the end of the burst.
QUIET_SECONDS = 0.05
# A steady stream of requests must not hold the work back for long.
MAX_WAIT_SECONDS = 1.0
# How long a stopping bot waits for runs it has acked to start (a start takes milliseconds).
DRAIN_SECONDS = 15.0

log = structlog.get_logger(__name__)


class PendingAcks:
    def __init__(self, quiet: float = QUIET_SECONDS, max_wait: float = MAX_WAIT_SECONDS) -> None:
        self._quiet, self._max_wait = quiet, max_wait
        self._pending = 0
        self._last_answer = float("-inf")
        self._settled = asyncio.Event()
        self._timer: asyncio.TimerHandle | None = None
        self._owed = 0
        self._all_done = asyncio.Event()
        self._all_done.set()

    async def settled(self) -> None:
        """Return once no request has waited for its answer for ``quiet`` seconds, or after ``max_wait``."""
        self._check()
        with suppress(TimeoutError):
            await asyncio.wait_for(self._settled.wait(), self._max_wait)

    @asynccontextmanager
    async def after_ack(self) -> AsyncIterator[None]:
        """Work owed to an acked request: it starts once the acks are out, and holds back ``drain()``."""
        self._owed += 1
        self._all_done.clear()
        try:
            await self.settled()
            yield
        finally:
            self._owed -= 1
            if self._owed == 0:
                self._all_done.set()

    async def drain(self, timeout: float = DRAIN_SECONDS) -> None:
        """On the way out: wait (up to ``timeout``) for the work owed to acked requests."""
        try:
            await asyncio.wait_for(self._all_done.wait(), timeout)
        except TimeoutError:
            log.warning("bot.work_abandoned", owed=self._owed)

    @contextmanager
    def answering(self) -> Iterator[None]:
        """One request waiting for its answer for as long as the block runs (a Socket Mode envelope)."""
        self._enter()
        try:
            yield
        finally:
            self._leave()

    def track(self, app: ASGIApp) -> ASGIApp:
        """``app`` as ASGI middleware that counts each HTTP request until its answer is sent."""

        async def tracked(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            answered = False

            async def answer(message: Message) -> None:
                nonlocal answered
                await send(message)
                if message["type"] == "http.response.body" and not message.get("more_body") and not answered:
                    answered = True
                    self._leave()

            self._enter()
            try:
                await app(scope, receive, answer)
            finally:
                if not answered:
                    self._leave()

        return tracked

    def _enter(self) -> None:
        self._pending += 1
        self._settled.clear()

    def _leave(self) -> None:
        self._pending -= 1
        if self._pending == 0:
            self._last_answer = asyncio.get_running_loop().time()
            self._check()

    def _check(self) -> None:
        """Settle if the quiet spell is over; else look again when it would be."""
        if self._pending or self._settled.is_set():
            return
        loop = asyncio.get_running_loop()
        left = self._last_answer + self._quiet - loop.time()
        if left <= 0:
            self._settled.set()
        elif self._timer is None or self._timer.cancelled():
            self._timer = loop.call_later(left, self._look_again)

    def _look_again(self) -> None:
        self._timer = None
        self._check()
