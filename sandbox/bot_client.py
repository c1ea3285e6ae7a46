"""Sends what Slack sends to a bot: signed slash commands, interactivity payloads and Events API requests.

Requests are form-encoded (:mod:`sandbox.payloads`) and signed the way Slack signs them
(:mod:`sandbox.signing`), so a bot verifies them with its real signing secret. Like Slack, the
client waits three seconds for an answer; what went wrong comes back as Slack's own error code:
``operation_timeout`` (no answer in time), ``dispatch_failed`` (the bot could not be reached) or
``http_service_error`` (the bot answered with an HTTP error).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from sandbox.payloads import command_body, event_body, interaction_body
from sandbox.signing import FORM, signed_headers

__all__ = ["ACK_TIMEOUT_SECONDS", "BotClient", "BotReply", "describe_error"]

ACK_TIMEOUT_SECONDS = 3.0  # Slack's deadline for the HTTP answer to a command or an interaction
USER_AGENT = "Slackbot 1.0 (+https://api.slack.com/robots)"


@dataclass(frozen=True)
class BotReply:
    """The bot's answer to one request, or Slack's error code for why there was none."""

    status: int | None = None
    body: bytes = b""
    content_type: str = ""
    error: str | None = None  # operation_timeout, dispatch_failed or http_service_error
    detail: str = ""  # what happened, in words, for the page

    @property
    def ok(self) -> bool:
        return self.error is None

    def json(self) -> dict[str, Any] | None:
        """The answer as a JSON object; None if it is empty or not JSON."""
        if not self.body.strip():
            return None
        try:
            value = json.loads(self.body)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return None
        return value if isinstance(value, dict) else None

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace").strip()


def describe_error(error: str, bot_url: str) -> str:
    """What an error code means, plainly, for someone looking at the page."""
    return {
        "operation_timeout": "The bot did not answer within 3 seconds.",
        "dispatch_failed": f"The bot is unreachable: nothing answered at {bot_url}. Is it running?",
        "http_service_error": "The bot answered with an HTTP error.",
    }.get(error, error)


class BotClient:
    """POSTs signed requests to the bot's request URL (one URL for commands and interactivity,
    as in manifest.yml)."""

    def __init__(
        self,
        url: str,
        signing_secret: str,
        *,
        timeout: float = ACK_TIMEOUT_SECONDS,
        clock: Callable[[], float] = time.time,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url, self.signing_secret, self.timeout, self.clock = url, signing_secret, timeout, clock
        self._transport = transport

    def headers(self, body: bytes, content_type: str = FORM) -> dict[str, str]:
        signed = signed_headers(self.signing_secret, body, int(self.clock()), content_type=content_type)
        return {**signed, "User-Agent": USER_AGENT}

    async def send_command(self, fields: Mapping[str, str]) -> BotReply:
        """A slash command: its fields form-encoded in the body."""
        return await self._post(command_body(fields).encode())

    async def send_payload(self, payload: Mapping[str, Any]) -> BotReply:
        """An interaction (block_actions, view_submission): ``payload=<json>`` in the body."""
        return await self._post(interaction_body(payload).encode())

    async def send_event(
        self, payload: Mapping[str, Any], retry_num: int = 0, retry_reason: str | None = None
    ) -> BotReply:
        """An Events API request (event_callback, url_verification): JSON; a retry says which and why,
        in ``X-Slack-Retry-Num`` and ``X-Slack-Retry-Reason`` (https://docs.slack.dev/apis/events-api/)."""
        extra = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": retry_reason or ""} if retry_num else {}
        return await self._post(event_body(payload).encode(), "application/json", extra)

    async def _post(self, body: bytes, content_type: str = FORM, extra: Mapping[str, str] | None = None) -> BotReply:
        # httpx's timeouts are per phase; Slack's deadline is for the whole exchange.
        headers = {**self.headers(body, content_type), **(extra or {})}
        try:
            async with httpx.AsyncClient(transport=self._transport, timeout=self.timeout + 1) as http:
                response = await asyncio.wait_for(http.post(self.url, content=body, headers=headers), self.timeout)
        except (TimeoutError, httpx.TimeoutException):
            return BotReply(error="operation_timeout", detail=describe_error("operation_timeout", self.url))
        except httpx.HTTPError as error:
            detail = f"{describe_error('dispatch_failed', self.url)} ({type(error).__name__}: {error})"
            return BotReply(error="dispatch_failed", detail=detail)
        reply = BotReply(
            status=response.status_code, body=response.content, content_type=response.headers.get("content-type", "")
        )
        if response.status_code >= 300:
            detail = f"The bot answered HTTP {response.status_code}: {reply.text[:200]}".rstrip(": ")
            return BotReply(
                status=reply.status,
                body=reply.body,
                content_type=reply.content_type,
                error="http_service_error",
                detail=detail,
            )
        return reply
