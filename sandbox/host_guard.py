"""Loopback servers that answer only their own address: no DNS rebinding, no cross-site pages.

A page on evil.example whose name is made to resolve to 127.0.0.1 reaches a loopback server, but its
requests carry ``Host: evil.example``; so a request is answered only when its ``Host`` is this
server's own address (127.0.0.1, localhost or [::1] at the port it listens on). And browsers send
``Origin`` with every cross-site POST and every ``fetch``: the page's own API takes only its own
Origin (:mod:`sandbox.page_guard`), while APIs whose callers are servers (the Slack Web API, a bot's
request URL) take none at all (:func:`servers_only`, :class:`LoopbackOnly`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["LOOPBACK_NAMES", "LoopbackOnly", "foreign", "own_hosts", "refuse", "servers_only"]

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")

Endpoint = Callable[[Request], Awaitable[Response]]


def refuse(status: int, error: str) -> Response:
    """A refusal shaped like Slack's answers: ``{"ok": false, "error": ...}``."""
    return JSONResponse({"ok": False, "error": error}, status_code=status)


def own_hosts(scope: Scope) -> set[str]:
    """This server's addresses as a Host header names them: loopback names at the port it listens on."""
    host, port = scope.get("server") or ("127.0.0.1", 80)
    names = {*LOOPBACK_NAMES, f"[{host}]" if ":" in host else host} - {"0.0.0.0", "[::]"}
    return {f"{name}:{port}" for name in names}


def foreign(scope: Scope, *, own_origin: bool) -> str | None:
    """Why a request is not for this server (``forbidden_host``, ``forbidden_origin``), or None.
    ``own_origin``: an Origin of this server's own address is allowed (else any Origin is refused)."""
    own, headers = own_hosts(scope), Headers(scope=scope)
    if headers.get("host", "").lower() not in own:
        return "forbidden_host"
    origin = headers.get("origin")
    if origin is not None and not (own_origin and origin.lower() in {f"http://{host}" for host in own}):
        return "forbidden_origin"
    return None


def servers_only(endpoint: Endpoint) -> Endpoint:
    """``endpoint``, answered only under this server's own Host and without an Origin (403)."""

    async def guarded(request: Request) -> Response:
        if error := foreign(request.scope, own_origin=False):
            return refuse(403, error)
        return await endpoint(request)

    return guarded


class LoopbackOnly:
    """ASGI middleware: every HTTP request needs this server's own Host and no Origin (403), before
    the app sees it. For a server on loopback that only local programs call (the dev bot): behind a
    proxy a deployment's Host is the proxy's, so this is never for production."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (error := foreign(scope, own_origin=False)):
            await refuse(403, error)(scope, receive, send)
            return
        await self.app(scope, receive, send)
