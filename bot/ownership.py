"""Only requests for this app in this workspace reach the listeners, even when they are signed.

A signing secret proves that Slack sent a request, not that it was meant for us: a secret shared by
two apps, or an app installed in a second workspace by mistake, would let their requests start runs
here. So each request's ``api_app_id`` and team (or, for an org-wide install, enterprise) must match
what ``auth.test`` says about this app's token (https://docs.slack.dev/reference/methods/auth.test/:
``app_id``, ``team_id``, ``enterprise_id``, ``is_enterprise_install``). auth.test is asked once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import structlog
from slack_bolt.async_app import AsyncBoltContext
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient

__all__ = ["AppIdentity", "Owner", "owner_of"]

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Owner:
    """Which app, workspace and organisation a request is for (or a token belongs to)."""

    app_id: str | None
    team_id: str | None
    enterprise_id: str | None


def owner_of(body: dict[str, Any]) -> Owner:
    """Where Slack puts these in a slash command, an interaction payload and an Events API callback."""

    def nested_id(key: str) -> str | None:
        value = body.get(key)
        return str(value["id"]) if isinstance(value, dict) and value.get("id") else None

    def text(value: object) -> str | None:
        return value if isinstance(value, str) and value else None

    return Owner(
        app_id=text(body.get("api_app_id")),
        team_id=text(body.get("team_id")) or nested_id("team"),
        enterprise_id=text(body.get("enterprise_id")) or nested_id("enterprise"),
    )


class AppIdentity:
    """This app as auth.test describes its token, asked on the first request and kept."""

    def __init__(self) -> None:
        self._ours: Owner | None = None
        self._org_wide = False
        self._lock = asyncio.Lock()

    async def ours(self, client: AsyncWebClient) -> tuple[Owner, bool]:
        if self._ours is None:  # every request after the first reads the kept answer, no lock on the hot path
            async with self._lock:
                if self._ours is None:
                    answer = await client.auth_test()
                    self._org_wide = bool(answer.get("is_enterprise_install"))
                    self._ours = Owner(answer.get("app_id"), answer.get("team_id"), answer.get("enterprise_id"))
        return self._ours, self._org_wide

    async def middleware(
        self,
        body: dict[str, Any],
        client: AsyncWebClient,
        context: AsyncBoltContext,
        next: Callable[[], Awaitable[None]],
    ) -> BoltResponse | None:
        """Bolt middleware: a request for another app or workspace is answered 403 and goes no further."""
        ours, org_wide = await self.ours(client)
        theirs = owner_of(body)
        if reason := _mismatch(ours, org_wide, theirs):
            log.info("slack.request_not_ours", reason=reason, app_id=theirs.app_id, team_id=theirs.team_id)
            return BoltResponse(status=403, body=f"Refused: {reason}.")
        await next()
        return None


def _mismatch(ours: Owner, org_wide: bool, theirs: Owner) -> str | None:
    if ours.app_id and theirs.app_id != ours.app_id:
        return "this request is for another Slack app"
    if org_wide:
        if theirs.enterprise_id != ours.enterprise_id:
            return "this request is from another Slack organisation"
    elif ours.team_id and theirs.team_id != ours.team_id:
        return "this request is from another Slack workspace"
    return None
