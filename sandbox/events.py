"""Live changes for the sandbox page: every Workspace change, and the page's own (a modal closed, an
ephemeral replaced), fanned out to listeners and to the page's server-sent event streams."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sandbox.state import Workspace

__all__ = ["Event", "EventHub"]

Event = dict[str, Any]


@dataclass(eq=False)
class _Stream:
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[Event | None] = field(default_factory=asyncio.Queue)


class EventHub:
    """Fans out every change: the Workspace's own events and the page's (a modal closed, an
    ephemeral replaced). Listeners are called in the thread that made the change; streams get
    the event on their own event loop."""

    def __init__(self, workspace: Workspace) -> None:
        self._lock = threading.Lock()
        self._listeners: list[Callable[[Event], None]] = []
        self._streams: set[_Stream] = set()
        self._unsubscribe = workspace.subscribe(self.publish)

    def add_listener(self, listener: Callable[[Event], None]) -> None:
        with self._lock:
            self._listeners.append(listener)

    def publish(self, event: Event) -> None:
        with self._lock:
            listeners, streams = list(self._listeners), list(self._streams)
        for listener in listeners:
            listener(event)
        for stream in streams:
            self._deliver(stream, event)

    @staticmethod
    def _deliver(stream: _Stream, event: Event | None) -> None:
        with contextlib.suppress(RuntimeError):  # its loop is closed: the connection is gone
            stream.loop.call_soon_threadsafe(stream.queue.put_nowait, event)

    def open_stream(self) -> _Stream:
        stream = _Stream(asyncio.get_running_loop())
        with self._lock:
            self._streams.add(stream)
        return stream

    def close_stream(self, stream: _Stream) -> None:
        with self._lock:
            self._streams.discard(stream)

    def close(self) -> None:
        """End every open stream (so a server can stop) and stop listening to the workspace."""
        self._unsubscribe()
        self._unsubscribe = lambda: None  # closing twice is fine
        with self._lock:
            streams, self._streams = list(self._streams), set()
        for stream in streams:
            self._deliver(stream, None)
