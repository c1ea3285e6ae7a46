"""Socket Mode, as Slack serves it: ``apps.connections.open`` (with the app-level token) hands the
app a WebSocket URL; Slack says ``hello`` on it, then sends each request as an envelope and waits
three seconds for the app to ack it.

    {"envelope_id": "...", "type": "slash_commands" | "interactive", "payload": {...},
     "accepts_response_payload": true}

The app answers ``{"envelope_id": "...", "payload": {...}}``; the payload (optional) is what an HTTP
answer's body would be: a command's reply, a view submission's ``response_action``.

Like Slack's, a URL's ticket is good for one connection; and the link, like the Web API, takes only
servers: its own Host, no ``Origin`` (a page in a browser may open WebSockets to any site).
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from concurrent.futures import Future
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from sandbox.host_guard import foreign
from sandbox.state import Workspace

__all__ = ["ENVELOPE_TYPES", "LINK_PATH", "SocketModeLink"]

LINK_PATH = "/socket-mode/link"
ACK_TIMEOUT_SECONDS = 3.0
ENVELOPE_TYPES = ("slash_commands", "interactive", "events_api")


class SocketModeLink:
    """The app's open Socket Mode connections, and envelopes sent over them from any thread."""

    def __init__(self, workspace: Workspace) -> None:
        self._workspace = workspace
        self._sockets: list[WebSocket] = []
        self._acks: dict[str, tuple[WebSocket, asyncio.Future[dict[str, Any] | None]]] = {}  # by envelope id
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tickets: set[str] = set()  # handed out by apps.connections.open, not yet used

    @property
    def connected(self) -> bool:
        return bool(self._sockets)

    def url(self, base_url: str) -> str:
        """A fresh ``ws://`` URL for apps.connections.open, from the server's own ``http://`` base URL."""
        ticket = secrets.token_urlsafe(16)
        self._tickets.add(ticket)
        return base_url.replace("http", "ws", 1).rstrip("/") + f"{LINK_PATH}?ticket={ticket}"

    async def serve(self, websocket: WebSocket) -> None:
        """One connection: hello, then the app's acks until it goes away."""
        ticket = websocket.query_params.get("ticket", "")
        if foreign(websocket.scope, own_origin=False) or ticket not in self._tickets:
            await websocket.close(code=1008)  # policy violation
            return
        self._tickets.discard(ticket)
        await websocket.accept()
        self._loop = asyncio.get_running_loop()
        self._sockets.append(websocket)
        try:
            await websocket.send_json(
                {
                    "type": "hello",
                    "num_connections": len(self._sockets),
                    "connection_info": {"app_id": self._workspace.app_id},
                    "debug_info": {"host": "sandbox", "approximate_connection_time": 18060},
                }
            )
            while True:
                message = await websocket.receive_json()
                waiting = self._acks.pop(str(message.get("envelope_id")), None)
                if waiting is not None and not waiting[1].done():
                    waiting[1].set_result(message.get("payload"))
        except WebSocketDisconnect:
            pass
        finally:
            self._sockets.remove(websocket)
            for envelope_id, (sent_on, ack) in list(self._acks.items()):
                if sent_on is websocket and not ack.done():  # no ack will come on a closed socket
                    ack.set_exception(ConnectionError("the app's Socket Mode connection closed before its ack"))
                    self._acks.pop(envelope_id, None)

    async def send(
        self, kind: str, payload: dict[str, Any], timeout: float = ACK_TIMEOUT_SECONDS
    ) -> dict[str, Any] | None:
        """Send one envelope from any event loop or thread; the ack's payload (None for a bare ack).

        Raises ``ConnectionError`` when no app is connected (or it goes away) and ``TimeoutError`` when
        the ack does not come in time (Slack's ``operation_timeout``)."""
        if kind not in ENVELOPE_TYPES:
            raise ValueError(f"unknown envelope type {kind!r}; one of {', '.join(ENVELOPE_TYPES)}")
        if self._loop is None or self._loop.is_closed():
            raise ConnectionError("no app is connected over Socket Mode")
        sent: Future[dict[str, Any] | None] = asyncio.run_coroutine_threadsafe(
            self._send(kind, payload, timeout), self._loop
        )
        try:
            return await asyncio.wait_for(asyncio.wrap_future(sent), timeout + 1)
        except asyncio.CancelledError:
            if sent.cancelled():  # the sandbox stopped under us, not our caller
                raise ConnectionError("the Socket Mode server stopped") from None
            raise

    async def _send(self, kind: str, payload: dict[str, Any], timeout: float) -> dict[str, Any] | None:
        if not self._sockets:
            raise ConnectionError("no app is connected over Socket Mode")
        socket, envelope_id = self._sockets[-1], str(uuid.uuid4())
        ack: asyncio.Future[dict[str, Any] | None] = asyncio.get_running_loop().create_future()
        self._acks[envelope_id] = (socket, ack)
        try:
            await socket.send_json(
                {
                    "envelope_id": envelope_id,
                    "type": kind,
                    "payload": payload,
                    "accepts_response_payload": kind != "events_api",
                }
            )
            return await asyncio.wait_for(ack, timeout)
        finally:
            self._acks.pop(envelope_id, None)
