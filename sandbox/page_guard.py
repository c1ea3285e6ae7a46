"""Only the sandbox page itself may act as a person on it (issue "bad input and faults").

The page's own endpoints (``POST /sandbox/...``: send a command, click, submit a modal...) refuse:

* a body that is not ``Content-Type: application/json`` (HTTP 415), so a cross-site HTML form,
  which can only send form encodings and text/plain, cannot post to them;
* a ``Host`` other than this server's own address (127.0.0.1, localhost or [::1] at its port), and an
  ``Origin``, when sent, other than that address (HTTP 403): no DNS rebinding, no cross-site pages;
* a request without the page's token in ``X-Sandbox-Token`` (HTTP 403). The server makes a random
  token when it starts and writes it into the page it serves (``<meta name="sandbox-token">``), which
  only a page on this origin can read.

The page itself, its state and its live updates are served only under this server's own ``Host`` (a
rebound name must not read the token). The Slack Web API (``/api/*``, called with the bot's token)
and the static files are not the page's API and are not guarded here.
"""

from __future__ import annotations

import html
import re
import secrets
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

__all__ = ["TOKEN_HEADER", "PageGuard", "token_in_page"]

TOKEN_HEADER = "X-Sandbox-Token"
TOKEN_META = "sandbox-token"
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")

Endpoint = Callable[[Request], Awaitable[Response]]


def token_in_page(page: str) -> str:
    """The token a served page carries (what the page's script reads), or ""."""
    found = re.search(rf'<meta name="{TOKEN_META}" content="([^"]*)"', page)
    return html.unescape(found.group(1)) if found else ""


def _refuse(status: int, error: str) -> Response:
    return JSONResponse({"ok": False, "error": error}, status_code=status)


class PageGuard:
    def __init__(self, token: str | None = None) -> None:
        self.token = token or secrets.token_urlsafe(32)

    def with_token(self, page: str) -> str:
        """``page`` with the token in its ``<meta name="sandbox-token">``."""
        meta = f'<meta name="{TOKEN_META}" content="{html.escape(self.token, quote=True)}">'
        return re.sub(rf'<meta name="{TOKEN_META}" content="[^"]*">', lambda _: meta, page, count=1)

    @staticmethod
    def own_hosts(request: Request) -> set[str]:
        """This server's addresses as a Host header names them: loopback names at the port it listens on."""
        host, port = request.scope.get("server") or ("127.0.0.1", 80)
        names = {*LOOPBACK_NAMES, f"[{host}]" if ":" in host else host} - {"0.0.0.0", "[::]"}
        return {f"{name}:{port}" for name in names}

    def _foreign(self, request: Request) -> Response | None:
        own = self.own_hosts(request)
        if request.headers.get("host", "").lower() not in own:
            return _refuse(403, "forbidden_host")
        origin = request.headers.get("origin")
        if origin is not None and origin.lower() not in {f"http://{host}" for host in own}:
            return _refuse(403, "forbidden_origin")
        return None

    def same_host(self, endpoint: Endpoint) -> Endpoint:
        """``endpoint``, answered only under this server's own Host (and Origin, when sent)."""

        async def guarded(request: Request) -> Response:
            return self._foreign(request) or await endpoint(request)

        return guarded

    def page_api(self, endpoint: Endpoint) -> Endpoint:
        """``endpoint``, answered only for the page: own Host and Origin, JSON, and the page's token."""

        async def guarded(request: Request) -> Response:
            if refused := self._foreign(request):
                return refused
            content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
            if content_type != "application/json":
                return _refuse(415, "unsupported_media_type")
            if not secrets.compare_digest(request.headers.get(TOKEN_HEADER, "").encode(), self.token.encode()):
                return _refuse(403, "invalid_token")
            return await endpoint(request)

        return guarded
