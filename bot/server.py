"""Serving the Bolt app: over HTTP (Starlette + uvicorn), or over Socket Mode with SLACK_APP_TOKEN.

HTTP mode answers ``POST /slack/events`` (slash commands and interactivity) behind the front door
(bot/front_door.py: capped, signed, well formed) and ``GET /healthz``; it refuses to start without a
signing secret. The server runs in the caller's event loop, so
the CLI stops it on SIGTERM and tests start and stop it in-process.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
from collections.abc import Iterator

import structlog
import uvicorn
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from bot.front_door import FrontDoor
from core.errors import ConfigError
from core.settings import Settings

__all__ = [
    "EVENTS_PATH",
    "HEALTH_PATH",
    "HttpServer",
    "check_settings",
    "create_asgi_app",
    "serve",
    "serve_socket_mode",
]

log = structlog.get_logger(__name__)

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
DEFAULT_HOST = "0.0.0.0"
GRACEFUL_SHUTDOWN_SECONDS = 5


def check_settings(settings: Settings) -> None:
    """Refuse to start without what the chosen mode needs; the message names the setting."""
    if settings.slack_bot_token is None:
        raise ConfigError("SLACK_BOT_TOKEN is not set: copy the app's Bot User OAuth Token (xoxb-...)")
    if settings.slack_app_token is None:
        signing_secret(settings)


def signing_secret(settings: Settings) -> str:
    """The secret every HTTP request must be signed with; HTTP is never served without one."""
    secret = settings.slack_signing_secret.get_secret_value().strip() if settings.slack_signing_secret else ""
    if not secret:
        raise ConfigError(
            "SLACK_SIGNING_SECRET is not set: copy it from the app's Basic Information page "
            "(or set SLACK_APP_TOKEN to use Socket Mode)"
        )
    return secret


def create_asgi_app(bolt: AsyncApp, settings: Settings) -> ASGIApp:
    """POST /slack/events for everything Slack sends, behind the front door; GET /healthz answers 200
    once this serves."""
    handler = AsyncSlackRequestHandler(bolt)

    async def events(request: Request) -> Response:
        return await handler.handle(request)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"ok": True})

    routes = [Route(EVENTS_PATH, events, methods=["POST"]), Route(HEALTH_PATH, healthz, methods=["GET"])]
    return FrontDoor(Starlette(routes=routes), signing_secret(settings), EVENTS_PATH)


LISTEN_BACKLOG = 2048


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # whoever runs the server decides what a signal does (see serve())


class HttpServer:
    """uvicorn serving an ASGI app in the running event loop, on a socket bound up front.

    >>> server = HttpServer(asgi, "127.0.0.1", 0); await server.start(); server.url; await server.stop()
    """

    def __init__(self, asgi: ASGIApp, host: str = DEFAULT_HOST, port: int = 3000) -> None:
        self.host, self.port = host, port
        config = uvicorn.Config(
            asgi, log_config=None, access_log=False, lifespan="off", timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS
        )
        self._server = _Server(config)
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host == DEFAULT_HOST else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        try:
            # uvicorn's own backlog: a burst of commands must not overflow the accept queue.
            sock = socket.create_server((self.host, self.port), backlog=LISTEN_BACKLOG)
        except OSError as error:
            raise ConfigError(f"cannot listen on {self.host}:{self.port} ({error.strerror}); set PORT") from error
        self.port = sock.getsockname()[1]
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]), name=f"http-{self.port}")
        while not self._server.started:
            if self._task.done():
                self._task.result()
                raise RuntimeError("the HTTP server stopped while starting")
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        """Stop taking connections, let requests in flight finish, and close."""
        if self._task is not None:
            self._server.should_exit = True
            await self._task
            self._task = None


async def serve_socket_mode(bolt: AsyncApp, app_token: str, stop: asyncio.Event) -> None:
    handler = AsyncSocketModeHandler(bolt, app_token)
    await handler.connect_async()
    log.info("bot.started", mode="socket")
    try:
        await stop.wait()
    finally:
        await handler.close_async()


async def serve(bolt: AsyncApp, settings: Settings) -> None:
    """Serve until SIGINT or SIGTERM: over Socket Mode if SLACK_APP_TOKEN is set, else over HTTP on
    0.0.0.0:$PORT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        if settings.slack_app_token is not None:
            await serve_socket_mode(bolt, settings.slack_app_token.get_secret_value(), stop)
            return
        server = HttpServer(create_asgi_app(bolt, settings), DEFAULT_HOST, settings.port)
        await server.start()
        log.info("bot.started", mode="http", port=server.port, path=EVENTS_PATH)
        await stop.wait()
        log.info("bot.stopping")
        await server.stop()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):  # a second signal interrupts what comes after (the drain)
            loop.remove_signal_handler(sig)
