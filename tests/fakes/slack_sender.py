"""Posts to a bot exactly what Slack posts: form-encoded, signed with the signing secret.

    slack = SlackSender(bot_url, secret)
    await slack.command(**payloads.command_form(...))                # a slash command
    await slack.interaction(payloads.block_actions(...))             # payload=<json>
    await slack.event(payloads.event_callback(ws, payloads.app_mention(...)))  # JSON, Events API

The signing is :mod:`sandbox.signing`'s, the payloads :mod:`sandbox.payloads`'s: the same the
sandbox page sends.
"""

from __future__ import annotations

from typing import Any

import httpx

from sandbox.payloads import command_body, event_body, interaction_body
from sandbox.signing import signed_headers

__all__ = ["SlackSender"]


class SlackSender:
    """Posts signed slash commands and interaction payloads to a bot's /slack/events."""

    def __init__(self, bot_url: str, signing_secret: str, *, path: str = "/slack/events", timeout: float = 30) -> None:
        self.url, self.secret = bot_url.rstrip("/") + path, signing_secret
        self.http = httpx.AsyncClient(timeout=timeout)

    async def post(self, body: str, headers: dict[str, str] | None = None) -> httpx.Response:
        """``body`` with the given headers, or signed now if none are given."""
        return await self.http.post(
            self.url, content=body.encode(), headers=headers or signed_headers(self.secret, body)
        )

    async def command(self, **fields: str) -> httpx.Response:
        return await self.post(command_body(fields))

    async def interaction(self, payload: dict[str, Any]) -> httpx.Response:
        return await self.post(interaction_body(payload))

    async def event(self, payload: dict[str, Any], retry_num: int = 0, retry_reason: str = "") -> httpx.Response:
        """An Events API request, JSON; a retry carries X-Slack-Retry-Num and X-Slack-Retry-Reason."""
        body = event_body(payload)
        headers = signed_headers(self.secret, body, content_type="application/json")
        if retry_num:
            headers |= {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": retry_reason}
        return await self.post(body, headers)

    async def aclose(self) -> None:
        await self.http.aclose()
