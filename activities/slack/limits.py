"""Slack's limits as a worker meets them: the rate budget of each write method, and Slack's refusals.

Slack limits each Web API method per app per workspace, by tier, and chat.postMessage per
channel (https://docs.slack.dev/apis/web-api/rate-limits). :data:`BUDGETS` holds the budget of
each method the worker writes with; activities/slack/writes.py spends it. What Slack refuses
becomes a Temporal failure that says whether to retry (:func:`slack_failure`).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackApiError
from temporalio.exceptions import ApplicationError

from activities import errors

__all__ = [
    "BUDGETS",
    "INFORMING_BURST",
    "PER_CHANNEL",
    "Budget",
    "digest",
    "retry_after",
    "slack_error_code",
    "slack_failure",
]


@dataclass(frozen=True)
class Budget:
    """One write per ``interval`` seconds on average, and up to ``burst`` at once after a quiet spell. Of
    the burst, a message's final state (activities/slack/writes.py) may spend ``finals`` slots; the rest
    is kept for clicks."""

    interval: float
    burst: int
    finals: int = 2

    def informing_burst(self, *, final: bool) -> int:
        """Slots of the burst an informing write may spend: INFORMING_BURST for an intermediate state,
        ``finals`` for a final one, never the whole burst unless it has one slot only."""
        share = self.finals if final else INFORMING_BURST
        return max(1, min(share, self.burst))


# What one worker may spend (all workers together, when they share it through PostgreSQL:
# activities/slack/shared_budget.py), a little under what Slack documents, so a worker alone never meets a 429.
# https://docs.slack.dev/apis/web-api/rate-limits: "Tier 3: 50+ per minute ... sporadic bursts are
# welcome"; "Tier 4: 100+ per minute ... generous burst behavior"; "Posting messages: 1 per second,
# short bursts >1 allowed". Each is "per API method per workspace per app"; chat.postMessage is per channel.
BUDGETS: dict[str, Budget] = {
    # Special tier: about one message a second per channel, short bursts allowed.
    # https://docs.slack.dev/reference/methods/chat.postMessage
    "chat.postMessage": Budget(interval=1.0, burst=3),
    # Tier 3, 50+ a minute per workspace, "sporadic bursts are welcome":
    # https://docs.slack.dev/reference/methods/chat.update. Slack does not publish the burst; 9 is under the
    # 10 the sandbox allows, and a wrong guess costs one Retry-After pause, never a write. Final progress
    # states may spend 6 of it: a click needs one update at once (its draft's buttons replaced; the root's
    # outcome informs), so 3 clicks landing together are all answered without waiting for a slot.
    "chat.update": Budget(interval=1.2, burst=9, finals=6),
    # Tier 4, 100+ a minute per workspace: https://docs.slack.dev/reference/methods/chat.postEphemeral
    "chat.postEphemeral": Budget(interval=0.6, burst=5),
    # Long reports as canvases: https://docs.slack.dev/reference/methods/canvases.create (Tier 2, 20+ a
    # minute), https://docs.slack.dev/reference/methods/canvases.access.set (Tier 3),
    # https://docs.slack.dev/reference/methods/files.info (Tier 4).
    "canvases.create": Budget(interval=3.0, burst=2),
    "canvases.access.set": Budget(interval=1.2, burst=5),
    "files.info": Budget(interval=0.6, burst=5),
    # The streaming methods have tiers of their own. chat.appendStream: Tier 4, 100+ a minute
    # (https://docs.slack.dev/reference/methods/chat.appendStream, "Rate Limits: Tier 4").
    "chat.appendStream": Budget(interval=0.65, burst=5),
    # chat.stopStream: Tier 2, 20+ a minute (https://api.slack.com/methods/chat.stopStream, "Rate limits: Tier 2").
    "chat.stopStream": Budget(interval=3.2, burst=2),
    # chat.startStream: no tier in the pages we could read (https://docs.slack.dev/reference/methods/chat.startStream);
    # taken as its sibling stopStream's, Tier 2, the stricter guess.
    "chat.startStream": Budget(interval=3.2, burst=2),
    # The reads a retried step makes to find what an earlier attempt posted (activities/slack/lookup.py):
    # Tier 3 (https://docs.slack.dev/reference/methods/conversations.replies), but Tier 1, one a minute, for
    # commercially distributed non-Marketplace apps installed since May 2025; their 429 pauses the line.
    "conversations.replies": Budget(interval=1.2, burst=5),
    "conversations.history": Budget(interval=1.2, burst=5),
}
# Of a budget's burst, what an intermediate informing state may spend: one slot beyond the average rate,
# so a slot a busy worker woke late for is made up rather than lost (100 runs at once lost 1 slot in 6);
# the rest stays full for final states and clicks.
INFORMING_BURST = 2
PER_CHANNEL = frozenset({"chat.postMessage"})  # budgets kept per channel; the others per workspace

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


def retry_after(error: SlackApiError, default: float = 1.0) -> float:
    """Slack's Retry-After in seconds, at most errors.MAX_RETRY_AFTER (a proxy in the way may say more)."""
    headers = error.response.headers or {}
    value = headers.get("Retry-After", headers.get("retry-after"))
    try:
        seconds = float(value) if value is not None else default
    except ValueError:
        return default
    return min(max(seconds, 0.0), errors.MAX_RETRY_AFTER) if math.isfinite(seconds) else errors.MAX_RETRY_AFTER


def slack_failure(error: SlackApiError) -> ApplicationError:
    """The failure to raise from an activity for a Slack error answer."""
    response = error.response
    method = str(response.api_url).rsplit("/", 1)[-1]
    if response.status_code == 429:
        return errors.rate_limited("Slack", retry_after(error))
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
