"""``GET /events?user=U``: the page's live updates, as server-sent events.

One ``data: {"type": ...}`` line per change the person may see (messages, their own ephemerals and
modals), saying what changed but not its content; the page refetches its state on each. A comment
line every KEEPALIVE_SECONDS keeps proxies from closing a quiet stream.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from sandbox.events import EventHub
from sandbox.page_io import BadRequest, person
from sandbox.state import Workspace
from sandbox.visibility import summary, visible

__all__ = ["KEEPALIVE_SECONDS", "EventStream"]

KEEPALIVE_SECONDS = 15.0


class EventStream:
    """The endpoint over ``hub``'s events."""

    def __init__(self, workspace: Workspace, hub: EventHub) -> None:
        self.workspace, self.hub = workspace, hub

    async def respond(self, request: Request) -> Response:
        workspace = self.workspace
        try:
            user = person(workspace, request.query_params.get("user"))
        except BadRequest as error:
            return JSONResponse({"ok": False, "error": error.error}, status_code=400)
        stream = self.hub.open_stream()

        async def lines() -> AsyncIterator[str]:
            try:
                yield "retry: 1000\n\n"
                yield f"data: {json.dumps({'type': 'hello', 'user': user.id})}\n\n"
                while True:
                    try:
                        event = await asyncio.wait_for(stream.queue.get(), KEEPALIVE_SECONDS)
                    except TimeoutError:
                        yield ": keepalive\n\n"
                        continue
                    if event is None:
                        return
                    if visible(workspace, event, user.id):
                        yield f"data: {json.dumps(summary(event))}\n\n"
            finally:
                self.hub.close_stream(stream)

        return StreamingResponse(
            lines(), media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        )
