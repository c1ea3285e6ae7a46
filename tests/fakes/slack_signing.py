"""Requests to the bot exactly as Slack sends them: form-encoded, signed with the signing secret.

Slack signs ``v0:<timestamp>:<raw body>`` with HMAC-SHA256 keyed by the app's signing secret and
sends ``X-Slack-Signature: v0=<hex digest>`` and ``X-Slack-Request-Timestamp: <unix seconds>``.

    slack = SlackSender(bot_url, secret)
    await slack.command(text="what is temporal?", **fields)          # a slash command
    await slack.interaction({"type": "block_actions", ...})          # payload=<json>
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import urlencode

import httpx

__all__ = ["SlackSender", "sign", "signature"]


def signature(signing_secret: str, timestamp: int | str, body: str | bytes) -> str:
    raw = body.decode() if isinstance(body, bytes) else body
    base = f"v0:{timestamp}:{raw}".encode()
    return "v0=" + hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()


def sign(signing_secret: str, body: str | bytes, timestamp: int | None = None) -> dict[str, str]:
    """The headers Slack sends with ``body``, signed at ``timestamp`` (now by default)."""
    stamp = int(time.time()) if timestamp is None else timestamp
    return {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": str(stamp),
        "X-Slack-Signature": signature(signing_secret, stamp, body),
    }


class SlackSender:
    """Posts signed slash commands and interaction payloads to a bot's /slack/events."""

    def __init__(self, bot_url: str, signing_secret: str, *, path: str = "/slack/events", timeout: float = 30) -> None:
        self.url, self.secret = bot_url.rstrip("/") + path, signing_secret
        self.http = httpx.AsyncClient(timeout=timeout)

    async def post(self, body: str, headers: dict[str, str] | None = None) -> httpx.Response:
        """``body`` with the given headers, or signed now if none are given."""
        return await self.http.post(self.url, content=body.encode(), headers=headers or sign(self.secret, body))

    async def command(self, **fields: str) -> httpx.Response:
        return await self.post(urlencode(fields))

    async def interaction(self, payload: dict[str, Any]) -> httpx.Response:
        return await self.post(urlencode({"payload": json.dumps(payload)}))

    async def aclose(self) -> None:
        await self.http.aclose()
