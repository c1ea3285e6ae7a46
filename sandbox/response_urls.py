"""The response_urls the page gives the bot, and the one thing they do beyond the Web API's own
``/response/{token}``: a ``replace_original`` or ``delete_original`` for the message an action came
from (ephemeral or not). Each use counts against the URL's five, as on Slack.
"""

from __future__ import annotations

import copy
import json
import threading
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sandbox.events import EventHub
from sandbox.payloads import with_block_ids
from sandbox.state import RESPONSE_URL_USES, Channel, User, Workspace

__all__ = ["Original", "ResponseUrls"]


@dataclass(frozen=True)
class Original:
    """The message an action came from, for its response_url's replace_original/delete_original."""

    channel: str
    ts: str
    ephemeral: bool


def _flag(value: Any) -> bool:
    return value in (True, 1, "1", "true", "True")


class ResponseUrls:
    """Issues response_urls, and serves ``POST /response/{token}`` as an ASGI app: what it does not
    handle itself goes on to ``api_app`` (the Web API's handler), body and all."""

    def __init__(self, workspace: Workspace, hub: EventHub) -> None:
        self.workspace, self.hub = workspace, hub
        self.api_app: ASGIApp | None = None
        self._lock = threading.Lock()
        self._originals: dict[str, Original] = {}  # token -> the message it may replace

    def issue(self, request: Request, channel: Channel, user: User, original: Original | None = None) -> str:
        """A response_url on this server for ``user`` in ``channel``; one that knows ``original``."""
        token = self.workspace.issue_response_url_token(channel.id, user.id)
        if original is not None:
            with self._lock:
                self._originals[token] = original
        return f"{str(request.base_url).rstrip('/')}/response/{token}"

    def take_original(self, token: str) -> tuple[Original | None, str | None]:
        """Spend one use of a response_url that knows its original message: (original, None),
        (None, None) if it knows none, or (None, error) if it is used up."""
        with self._lock:
            original = self._originals.get(token)
        if original is None:
            return None, None
        with self.workspace.lock:
            target = self.workspace.response_urls.get(token)
            if target is None or target["uses"] >= RESPONSE_URL_USES:
                return None, "used_url" if target else "expired_url"
            target["uses"] += 1
        return original, None

    def replace_original(self, original: Original, body: dict[str, Any]) -> None:
        ws = self.workspace
        content = {"text": str(body.get("text") or ""), "blocks": with_block_ids(body.get("blocks")) or []}
        delete = _flag(body.get("delete_original"))
        if original.ephemeral:
            with ws.lock:
                found = next((e for e in ws.ephemerals if e["ts"] == original.ts), None)
                if found is not None:
                    if delete:
                        ws.ephemerals.remove(found)
                    else:
                        found.update(content)
                event = copy.deepcopy(found) if found else None
            if event is not None:
                self.hub.publish({"type": "ephemeral_deleted" if delete else "ephemeral_changed", "message": event})
            return
        if delete:
            with ws.lock:
                messages = ws.messages.get(original.channel, [])
                messages[:] = [m for m in messages if m["ts"] != original.ts]
            self.hub.publish({"type": "message_deleted", "channel": original.channel, "ts": original.ts})
            return
        if ws.message(original.channel, original.ts) is not None:
            ws.update(original.channel, original.ts, **content)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        try:
            data = json.loads(body) if body.strip() else {}
        except json.JSONDecodeError:
            data = {}
        token = scope["path_params"]["token"]
        if isinstance(data, dict) and (_flag(data.get("replace_original")) or _flag(data.get("delete_original"))):
            original, error = self.take_original(token)
            if error:
                await JSONResponse({"ok": False, "error": error}, status_code=404)(scope, receive, send)
                return
            if original is not None:
                self.replace_original(original, data)
                await JSONResponse({"ok": True})(scope, receive, send)
                return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        assert self.api_app is not None, "routes() sets the Web API's handler"
        await self.api_app(scope, replay, send)
