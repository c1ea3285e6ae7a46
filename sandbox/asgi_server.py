"""An ASGI app served by uvicorn on 127.0.0.1 from a daemon thread: the sandbox's Web API and page,
and the loopback servers tests stand up (a fake bot, say).

>>> with AsgiServer(app) as server:
...     httpx.get(server.url + "healthz")
"""

from __future__ import annotations

import threading
import time

import uvicorn
from starlette.types import ASGIApp

__all__ = ["AsgiServer", "uvicorn_config"]

START_TIMEOUT_SECONDS = 10.0


def uvicorn_config(app: ASGIApp, host: str, port: int) -> uvicorn.Config:
    """uvicorn quiet and quick to stop: no access log, no lifespan, a one-second graceful shutdown."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=1,
    )


class AsgiServer:
    """Serves ``app`` on ``host``:``port`` (port 0: a free one, known once started) in a daemon thread."""

    def __init__(self, app: ASGIApp, *, host: str = "127.0.0.1", port: int = 0, name: str = "asgi-server") -> None:
        self.app, self.host, self.port, self.name = app, host, port, name
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>/``."""
        return f"http://{self.host}:{self.port}/"

    @property
    def started(self) -> bool:
        return self._server is not None and self._server.started

    def start(self) -> AsgiServer:
        self._server = uvicorn.Server(uvicorn_config(self.app, self.host, self.port))
        self._thread = threading.Thread(target=self._server.run, name=self.name, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} could not start on {self.host}:{self.port}")
            time.sleep(0.01)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=5)
            self._server = self._thread = None

    def __enter__(self) -> AsgiServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
