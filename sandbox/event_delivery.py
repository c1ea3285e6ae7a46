"""The Events API, as Slack delivers it (https://docs.slack.dev/apis/events-api/): each event wrapped in
an ``event_callback``, signed, POSTed as JSON to the request URL, with three seconds for a 2xx answer.
A delivery that fails (no answer in time, an HTTP error, no connection) is retried three times with the
same payload and event_id, saying so in ``X-Slack-Retry-Num`` (1, 2, 3) and ``X-Slack-Retry-Reason``;
Slack retries at once, then after one minute, then after five (``retry_delays``; tests shorten them).

With ``verify_url`` the request URL must first pass Slack's ``url_verification``: the app answers with
the challenge (as text, a form or JSON), or no event is delivered, as Slack would not save the URL.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sandbox import payloads
from sandbox.bot_client import BotClient, BotReply
from sandbox.state import Workspace

__all__ = ["SLACK_RETRY_DELAYS", "Attempt", "EventDelivery"]

log = logging.getLogger(__name__)

SLACK_RETRY_DELAYS = (0.0, 60.0, 300.0)  # "nearly immediately", "after 1 minute", "after 5 minutes"
KEPT_ATTEMPTS = 200
# X-Slack-Retry-Reason for the sandbox's delivery errors (bot_client.BotClient's codes).
_RETRY_REASONS = {
    "operation_timeout": "http_timeout",
    "dispatch_failed": "connection_failed",
    "http_service_error": "http_error",
}


@dataclass(frozen=True)
class Attempt:
    """One POST of an event: which (event_id), the how-manieth retry, and what came back."""

    event_id: str
    event_type: str
    retry_num: int
    reply: BotReply


class EventDelivery:
    """Delivers events to the bot through ``bot``; retries run in the background of the caller's loop."""

    def __init__(
        self,
        workspace: Workspace,
        bot: BotClient,
        *,
        retry_delays: Sequence[float] = SLACK_RETRY_DELAYS,
        verify_url: bool = False,
    ) -> None:
        self.workspace, self.bot = workspace, bot
        self.retry_delays = tuple(retry_delays)
        self.verify_url = verify_url
        self.url_verified: bool | None = None  # None: not asked yet (or not wanted)
        self.attempts: list[Attempt] = []  # newest last
        self._lock = threading.Lock()
        self._retries: set[asyncio.Task[None]] = set()

    async def deliver(self, event: dict[str, Any]) -> BotReply:
        """Deliver ``event`` once now; if that fails, its retries follow in the background."""
        if self.verify_url and not self.url_verified and not await self.verify():
            return BotReply(error="url_verification_failed", detail="The request URL did not echo the challenge.")
        payload = payloads.event_callback(self.workspace, event)
        reply = await self._send(payload, 0)
        if not reply.ok and self.retry_delays:
            task = asyncio.ensure_future(self._retry(payload, reply))
            self._retries.add(task)
            task.add_done_callback(self._retries.discard)
        return reply

    async def verify(self) -> bool:
        """Slack's url_verification: the app must answer with the challenge."""
        challenge = secrets.token_urlsafe(24)
        reply = await self.bot.send_event(payloads.url_verification(challenge))
        body = reply.json() or {}
        self.url_verified = reply.ok and (
            reply.text in (challenge, f"challenge={challenge}") or body.get("challenge") == challenge
        )
        if not self.url_verified:
            log.warning("sandbox: the request URL %s failed url_verification: %s", self.bot.url, reply.detail)
        return self.url_verified

    def attempts_of(self, event_id: str) -> list[Attempt]:
        with self._lock:
            return [a for a in self.attempts if a.event_id == event_id]

    async def _retry(self, payload: dict[str, Any], reply: BotReply) -> None:
        for retry_num, delay in enumerate(self.retry_delays, start=1):
            await asyncio.sleep(delay)
            reply = await self._send(payload, retry_num, _RETRY_REASONS.get(reply.error or "", "unknown_error"))
            if reply.ok:
                return
        log.warning("sandbox: event %s was not delivered after %d retries", payload["event_id"], len(self.retry_delays))

    async def _send(self, payload: dict[str, Any], retry_num: int, reason: str | None = None) -> BotReply:
        reply = await self.bot.send_event(payload, retry_num, reason)
        attempt = Attempt(payload["event_id"], payload["event"]["type"], retry_num, reply)
        with self._lock:
            self.attempts = [*self.attempts[1 - KEPT_ATTEMPTS :], attempt]
        if reply.error:
            log.warning("sandbox: event %s (retry %d) failed: %s", payload["event_id"], retry_num, reply.detail)
        return reply
