"""What every endpoint of the sandbox page shares: its JSON body in, a Slack-style ``{ok, error}``
answer out, and the person it acts as."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from sandbox.state import User, Workspace

__all__ = ["BadRequest", "answer", "escape", "json_body", "person"]


class BadRequest(Exception):
    """Refuses a page request with Slack's kind of error code (and an HTTP status)."""

    def __init__(self, error: str, status: int = 400) -> None:
        super().__init__(error)
        self.error, self.status = error, status


def escape(text: str) -> str:
    """What Slack stores for text a person typed: & < > escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def person(workspace: Workspace, user_id: Any) -> User:
    """The person (not a bot) ``user_id`` names, or ``user_not_found``."""
    user = workspace.users.get(str(user_id or ""))
    if user is None or user.is_bot:
        raise BadRequest("user_not_found")
    return user


async def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object, or ``invalid_json``."""
    try:
        data = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise BadRequest("invalid_json") from None
    if not isinstance(data, dict):
        raise BadRequest("invalid_json")
    return data


def answer(handler: Callable[[Request], Awaitable[dict[str, Any]]]) -> Callable[[Request], Awaitable[Response]]:
    """A route from ``handler``: its dict as JSON, a :class:`BadRequest` as ``{ok: false, error}``."""

    async def route(request: Request) -> Response:
        try:
            return JSONResponse(await handler(request))
        except BadRequest as error:
            return JSONResponse({"ok": False, "error": error.error}, status_code=error.status)

    return route
