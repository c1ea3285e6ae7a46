"""Acting on the sandbox page from a test, as its script does: JSON POSTs to its endpoints, and
GET /sandbox/state for what one person sees."""

from __future__ import annotations

from typing import Any

import httpx

from sandbox.demo_workspace import ADA, RESEARCH
from sandbox.page_guard import TOKEN_HEADER
from sandbox.server import SandboxServer

__all__ = ["ask", "click", "draft_of", "post", "state"]


async def post(sandbox: SandboxServer, path: str, **body: Any) -> dict[str, Any]:
    """What the page's script sends: JSON, with the page's token."""
    async with httpx.AsyncClient(base_url=sandbox.url, timeout=10) as http:
        return (await http.post(path, json=body, headers={TOKEN_HEADER: sandbox.page_token})).json()


async def state(sandbox: SandboxServer, user: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=sandbox.url, timeout=10) as http:
        answer = (await http.get("/sandbox/state", params={"user": user})).json()
    assert answer["ok"] is True
    return answer


async def ask(sandbox: SandboxServer, text: str, user: str = ADA, channel: str = RESEARCH) -> dict[str, Any]:
    return await post(sandbox, "/sandbox/command", user=user, channel=channel, text=text)


def draft_of(sandbox: SandboxServer) -> dict[str, Any]:
    return next(m for m in sandbox.workspace.messages[RESEARCH] if m.get("blocks"))


async def click(sandbox: SandboxServer, user: str, action_id: str, ts: str) -> dict[str, Any]:
    return await post(
        sandbox,
        "/sandbox/action",
        user=user,
        channel=RESEARCH,
        message_ts=ts,
        block_id="decision-1",
        action_id=action_id,
    )
