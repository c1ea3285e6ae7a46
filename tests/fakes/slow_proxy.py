"""A TCP proxy on loopback that can add latency or cut the line: a bad network between a client
and a real server.

async with SlowProxy("127.0.0.1", 7233) as proxy:   # connect to proxy.address instead
    proxy.latency = 0.5                             # from now on, bytes arrive half a second late
    proxy.cut()                                     # open connections drop, new ones are closed at once
    proxy.restore()                                 # and the server is reachable again
"""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType


class SlowProxy:
    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.latency = 0.0
        self.is_cut = False
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()

    @property
    def address(self) -> str:
        assert self._server is not None, "the proxy is not running"
        host, port = self._server.sockets[0].getsockname()[:2]
        return f"{host}:{port}"

    async def __aenter__(self) -> SlowProxy:
        self._server = await asyncio.start_server(self._connect, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        assert self._server is not None
        self._server.close()
        for pipe in list(self._pipes):
            pipe.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 5)

    def cut(self) -> None:
        """An outage: every open connection drops, and new ones are closed as soon as they arrive."""
        self.is_cut = True
        for pipe in list(self._pipes):
            pipe.cancel()

    def restore(self) -> None:
        self.is_cut = False

    async def _connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.is_cut:
            writer.close()
            return
        upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        for source, sink in ((reader, upstream_writer), (upstream_reader, writer)):
            pipe = asyncio.create_task(self._pipe(source, sink))
            self._pipes.add(pipe)
            pipe.add_done_callback(self._pipes.discard)

    async def _pipe(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        """Forward each chunk ``latency`` seconds after it was read (late, but not one after another)."""
        loop = asyncio.get_running_loop()
        chunks: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def forward() -> None:
            while True:
                due, chunk = await chunks.get()
                await asyncio.sleep(max(0.0, due - loop.time()))
                if not chunk:
                    return
                sink.write(chunk)
                await sink.drain()

        forwarding = asyncio.create_task(forward())
        try:
            while chunk := await source.read(65536):
                chunks.put_nowait((loop.time() + self.latency, chunk))
            chunks.put_nowait((loop.time() + self.latency, b""))
            await forwarding
        except (ConnectionError, asyncio.CancelledError):
            forwarding.cancel()
        finally:
            sink.close()
