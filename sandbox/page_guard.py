"""Only the sandbox page itself may act as a person on it (issue "bad input and faults").

The page's own endpoints (``POST /sandbox/...``: send a command, click, submit a modal...) refuse:

* a body that is not ``Content-Type: application/json`` (HTTP 415), so a cross-site HTML form,
  which can only send form encodings and text/plain, cannot post to them;
* a ``Host`` other than this server's own address (127.0.0.1, localhost or [::1] at its port), and an
  ``Origin``, when sent, other than that address (HTTP 403; :mod:`sandbox.host_guard`): no DNS
  rebinding, no cross-site pages;
* a request without the page's token in ``X-Sandbox-Token`` (HTTP 403). The server makes a random
  token when it starts and writes it into the page it serves (``<meta name="sandbox-token">``), which
  only a page on this origin can read.

The page itself, its state and its live updates are served only under this server's own ``Host`` (a
rebound name must not read the token). The Slack Web API (``/api/*``, called with the bot's token) is
not the page's API: it answers servers only (:func:`sandbox.host_guard.servers_only`).
"""

from __future__ import annotations

import html
import re
import secrets

from starlette.requests import Request
from starlette.responses import Response

from sandbox.host_guard import Endpoint, foreign, refuse

__all__ = ["TOKEN_HEADER", "PageGuard", "token_in_page"]

TOKEN_HEADER = "X-Sandbox-Token"
TOKEN_META = "sandbox-token"


def token_in_page(page: str) -> str:
    """The token a served page carries (what the page's script reads), or ""."""
    found = re.search(rf'<meta name="{TOKEN_META}" content="([^"]*)"', page)
    return html.unescape(found.group(1)) if found else ""


class PageGuard:
    def __init__(self, token: str | None = None) -> None:
        self.token = token or secrets.token_urlsafe(32)

    def with_token(self, page: str) -> str:
        """``page`` with the token in its ``<meta name="sandbox-token">``."""
        meta = f'<meta name="{TOKEN_META}" content="{html.escape(self.token, quote=True)}">'
        return re.sub(rf'<meta name="{TOKEN_META}" content="[^"]*">', lambda _: meta, page, count=1)

    @staticmethod
    def _foreign(request: Request) -> Response | None:
        error = foreign(request.scope, own_origin=True)
        return refuse(403, error) if error else None

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
                return refuse(415, "unsupported_media_type")
            if not secrets.compare_digest(request.headers.get(TOKEN_HEADER, "").encode(), self.token.encode()):
                return refuse(403, "invalid_token")
            return await endpoint(request)

        return guarded
