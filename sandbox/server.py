"""The whole sandbox on one port: the Slack Web API under ``/api/``, response_urls, and the page.

>>> with SandboxServer(bot_url="http://127.0.0.1:3000/slack/events", signing_secret="s",
...                    state_file=".data/sandbox.json") as sandbox:
...     print(sandbox.url)        # the page
...     print(sandbox.base_url)   # SLACK_API_URL for the bot

``start()``/``stop()`` (or ``with``) run it in a background thread, for tests; ``await serve()``
runs it in the current event loop until it is told to stop, for the command line. The
workspace is saved to ``state_file`` shortly after every change and when the server stops,
and loaded from it at start, so a restart keeps the history on the page.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from pathlib import Path

import uvicorn
from starlette.applications import Starlette

from sandbox.asgi_server import uvicorn_config
from sandbox.bot_client import ACK_TIMEOUT_SECONDS, BotClient
from sandbox.event_delivery import SLACK_RETRY_DELAYS
from sandbox.events import EventHub
from sandbox.slack_api import SlackApiServer
from sandbox.state import Workspace
from sandbox.web import SandboxWeb
from sandbox.workspace_file import StateFile, load_workspace

__all__ = ["DEFAULT_PORT", "DEFAULT_STATE_FILE", "SandboxServer"]

log = logging.getLogger(__name__)

DEFAULT_PORT = 3001  # next to the bot's 3000
DEFAULT_STATE_FILE = Path(".data") / "sandbox.json"


class SandboxServer(SlackApiServer):
    """A :class:`SlackApiServer` that also serves the sandbox page and sends its commands,
    buttons, modals and events (mentions, DMs) to the bot at ``bot_url``, signed with ``signing_secret``;
    failed event deliveries are retried after ``event_retry_delays`` (Slack's: at once, 1 and 5 minutes),
    and ``verify_events_url`` has the URL pass url_verification first. Its Web API takes ``bot_token`` and
    ``app_token``; without them, random ones made for this start (``sandbox.workspace.bot_token``)."""

    def __init__(
        self,
        workspace: Workspace | None = None,
        *,
        bot_url: str,
        signing_secret: str,
        bot_token: str | None = None,
        app_token: str | None = None,
        state_file: str | Path | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        commands: Sequence[str] = ("/research",),
        ack_timeout: float = ACK_TIMEOUT_SECONDS,
        save_delay: float = 0.2,
        event_retry_delays: Sequence[float] = SLACK_RETRY_DELAYS,
        verify_events_url: bool = False,
    ) -> None:
        if workspace is None:
            workspace = load_workspace(state_file, bot_token=bot_token, app_token=app_token)
        else:
            workspace.bot_token = bot_token or workspace.bot_token
            workspace.app_token = app_token or workspace.app_token
        super().__init__(workspace, host=host, port=port)
        self.state_file = Path(state_file) if state_file else None
        self.bot = BotClient(bot_url, signing_secret, timeout=ack_timeout)
        self.hub = EventHub(self.workspace)
        self.web = SandboxWeb(
            self.workspace,
            self.bot,
            commands=commands,
            hub=self.hub,
            event_retry_delays=event_retry_delays,
            verify_events_url=verify_events_url,
        )
        api = self.app
        self.app = Starlette(routes=[*self.web.routes(api), *api.routes])
        self._server: uvicorn.Server | None = None  # serve(): in the caller's event loop
        self._state: StateFile | None = None
        if self.state_file is not None:
            self._state = StateFile(self.workspace, self.state_file, delay=save_delay)
            self.hub.add_listener(self._state.changed)
            self._state.save()

    @property
    def page_url(self) -> str:
        return self.url

    @property
    def page_token(self) -> str:
        """The token the page sends with its requests (written into the page it serves)."""
        return self.web.guard.token

    @property
    def started(self) -> bool:
        """Whether the server listens (from ``start()`` or ``serve()``)."""
        return super().started or (self._server is not None and self._server.started)

    def save(self) -> None:
        """Write the state file now (it is also written shortly after every change)."""
        if self._state is not None:
            self._state.flush()

    def stop(self) -> None:
        self.hub.close()  # ends the page's event streams, so the server can stop at once
        super().stop()
        self.save()

    def request_stop(self) -> None:
        """Ask a ``serve()`` in progress to finish; it closes the page's streams and saves."""
        self.hub.close()
        if self._server is not None:
            self._server.should_exit = True

    async def serve(self, *, handle_signals: bool = True) -> None:
        """Serve in the current event loop until stopped (Ctrl-C, SIGTERM, ``request_stop()`` or
        cancellation). With handle_signals=False the caller owns SIGINT/SIGTERM."""
        config = uvicorn_config(self.app, self.host, self.port)
        server = uvicorn.Server(config) if handle_signals else _SignalFreeServer(config)
        self._server = server
        try:
            await server.serve()
        finally:
            self._server = None
            self.hub.close()
            self.save()


class _SignalFreeServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield
