"""Slack's limits as a worker meets them: pacing its writes, and classifying Slack's refusals.

Slack allows about one message a second in a channel, and chat.update is a Tier 3 method
(50+ a minute per workspace). :class:`SlackPacer` keeps one worker under both and drops
updates that would change nothing. What Slack refuses becomes a Temporal failure that says
whether to retry (:func:`slack_failure`).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from slack_sdk.errors import SlackApiError
from temporalio.exceptions import ApplicationError

from activities import errors

__all__ = ["SlackPacer", "digest", "slack_error_code", "slack_failure"]

_TRANSIENT = frozenset({"internal_error", "fatal_error", "service_unavailable", "request_timeout", "ratelimited"})
_HINTS = {
    "invalid_auth": "the bot token is not valid; check SLACK_BOT_TOKEN",
    "not_authed": "no bot token was sent; set SLACK_BOT_TOKEN",
    "account_inactive": "the token belongs to a deleted app or workspace; reinstall the app",
    "token_revoked": "the token was revoked; reinstall the app and update SLACK_BOT_TOKEN",
    "missing_scope": "the app lacks a scope; add the scopes in manifest.yml and reinstall",
    "invalid_blocks": "Slack refused the message's blocks; slack_ui/thread.py built them wrong",
    "msg_blocks_too_long": "the message's blocks hold too much text; slack_ui/blocks.py must split it",
    "msg_too_long": "the message text is too long; slack_ui/blocks.py must split it",
    "channel_not_found": "the channel is gone, or the bot cannot see it",
    "not_in_channel": "the bot is not in the channel; invite it with /invite",
    "is_archived": "the channel was archived",
    "message_not_found": "the message was deleted",
    "thread_not_found": "the thread's root message was deleted",
}


def slack_error_code(error: SlackApiError) -> str | None:
    data = error.response.data
    return data.get("error") if isinstance(data, dict) else None


def _retry_after(error: SlackApiError, default: float = 1.0) -> float:
    headers = error.response.headers or {}
    value = headers.get("Retry-After", headers.get("retry-after"))
    try:
        return float(value) if value is not None else default
    except ValueError:
        return default


def slack_failure(error: SlackApiError) -> ApplicationError:
    """The failure to raise from an activity for a Slack error answer."""
    response = error.response
    method = str(response.api_url).rsplit("/", 1)[-1]
    if response.status_code == 429:
        return errors.rate_limited("Slack", _retry_after(error))
    code = slack_error_code(error)
    if code is None or code in _TRANSIENT or response.status_code >= 500:
        reason = code or f"HTTP {response.status_code}"
        return ApplicationError(f"Slack {method} failed ({reason}); will retry", type="SlackUnavailable")
    hint = _HINTS.get(code, "Slack refused the request")
    if code == "missing_scope":
        hint += f" (needed: {response.get('needed')})"
    details = (response.get("response_metadata") or {}).get("messages") or []
    detail = f" [{'; '.join(details[:3])}]" if details else ""
    return errors.permanent(f"Slack {method} failed with {code}: {hint}{detail}", type="SlackRefused")


def digest(message: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(message, sort_keys=True).encode()).hexdigest()


class SlackPacer:
    """Spaces one worker's Slack writes, shared by all its runs: on average one post per
    ``post_interval`` in a channel and one update per ``update_interval`` in all, with short
    bursts allowed as Slack allows them (a generic cell-rate algorithm: a run's first few
    messages go out at once); and remembers what each message last got, so an update that
    changes nothing is not sent."""

    def __init__(
        self,
        *,
        post_interval: float = 1.0,
        update_interval: float = 1.2,
        post_burst: int = 6,
        update_burst: int = 20,
        remember: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self._post_interval, self._update_interval = post_interval, update_interval
        self._post_burst, self._update_burst = post_burst, update_burst
        self._clock, self._sleep = clock, sleep
        self._next_post: dict[str, float] = {}
        self._next_update = 0.0
        self._waiting: dict[tuple[str, str], int] = {}  # message -> number of its newest waiting update
        self._sent: OrderedDict[tuple[str, str], str] = OrderedDict()
        self._remember = remember

    async def _take_slot(self, due: float) -> None:
        delay = due - self._clock()
        if delay > 0:
            await self._sleep(delay)

    def _schedule(self, theoretical: float, interval: float, burst: int) -> tuple[float, float]:
        """When this write may go, and the next theoretical arrival time."""
        now = self._clock()
        theoretical = max(theoretical, now)
        return max(now, theoretical - (burst - 1) * interval), theoretical + interval

    async def before_post(self, channel: str) -> None:
        due, self._next_post[channel] = self._schedule(
            self._next_post.get(channel, 0.0), self._post_interval, self._post_burst
        )
        await self._take_slot(due)

    async def before_update(self, channel: str, ts: str) -> bool:
        """Wait for an update slot; False if a newer update of the same message arrived meanwhile."""
        key = (channel, ts)
        number = self._waiting[key] = self._waiting.get(key, 0) + 1
        due, self._next_update = self._schedule(self._next_update, self._update_interval, self._update_burst)
        await self._take_slot(due)
        if self._waiting.get(key) != number:
            return False
        del self._waiting[key]
        return True

    def already_sent(self, channel: str, ts: str, content: str) -> bool:
        return self._sent.get((channel, ts)) == content

    def sent(self, channel: str, ts: str, content: str) -> None:
        self._sent[(channel, ts)] = content
        self._sent.move_to_end((channel, ts))
        while len(self._sent) > self._remember:
            self._sent.popitem(last=False)
