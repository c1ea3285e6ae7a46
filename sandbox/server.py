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
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import uvicorn
from starlette.applications import Starlette

from sandbox.bot_client import ACK_TIMEOUT_SECONDS, BotClient
from sandbox.demo_workspace import demo_workspace
from sandbox.events import EventHub
from sandbox.slack_api import SlackApiServer
from sandbox.state import Workspace
from sandbox.web import SandboxWeb

__all__ = ["DEFAULT_PORT", "DEFAULT_STATE_FILE", "SandboxServer", "StateFile", "load_workspace"]

log = logging.getLogger(__name__)

DEFAULT_PORT = 3001  # next to the bot's 3000
DEFAULT_STATE_FILE = Path(".data") / "sandbox.json"
DEFAULT_BOT_TOKEN = "xoxb-sandbox-token"


def load_workspace(state_file: str | Path | None, *, bot_token: str | None = None) -> Workspace:
    """The saved workspace, or the demo one if there is none yet. A file that cannot be read is
    kept aside (``.broken-<time>``) and a fresh demo workspace starts."""
    workspace: Workspace | None = None
    path = Path(state_file) if state_file else None
    if path is not None and path.exists():
        try:
            workspace = Workspace.load(path)
        except (ValueError, KeyError, TypeError) as error:
            aside = path.with_name(f"{path.name}.broken-{int(time.time())}")
            path.replace(aside)
            log.warning("sandbox: could not read %s (%s); moved it to %s and started afresh", path, error, aside)
    if workspace is None:
        workspace = demo_workspace(bot_token=bot_token or DEFAULT_BOT_TOKEN)
    if bot_token:
        workspace.bot_token = bot_token  # the bot's SLACK_BOT_TOKEN is what the Web API accepts
    return workspace


class StateFile:
    """Saves a workspace to a file ``delay`` seconds after a change (changes in between are
    saved together), and at once on ``flush()``."""

    def __init__(self, workspace: Workspace, path: str | Path, *, delay: float = 0.2) -> None:
        self.workspace, self.path, self.delay = workspace, Path(path), delay
        self._lock = threading.Lock()  # guards the timer; never held while the workspace is locked by us
        self._write = threading.Lock()  # one save at a time
        self._timer: threading.Timer | None = None

    def changed(self, event: object = None) -> None:
        # Called with the workspace locked, from whichever thread changed it: only start a timer.
        with self._lock:
            if self._timer is None:
                self._timer = threading.Timer(self.delay, self._save_pending)
                self._timer.daemon = True
                self._timer.start()

    def _save_pending(self) -> None:
        with self._lock:
            self._timer = None
        self.save()

    def save(self) -> None:
        with self._write:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self.workspace.save(self.path)
            except OSError:
                log.exception("sandbox: could not save the workspace to %s", self.path)

    def flush(self) -> None:
        with self._lock:
            timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
        self.save()


class SandboxServer(SlackApiServer):
    """A :class:`SlackApiServer` that also serves the sandbox page and sends its commands,
    buttons and modals to the bot at ``bot_url``, signed with ``signing_secret``."""

    def __init__(
        self,
        workspace: Workspace | None = None,
        *,
        bot_url: str,
        signing_secret: str,
        bot_token: str | None = None,
        state_file: str | Path | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        commands: Sequence[str] = ("/research",),
        ack_timeout: float = ACK_TIMEOUT_SECONDS,
        save_delay: float = 0.2,
    ) -> None:
        if workspace is None:
            workspace = load_workspace(state_file, bot_token=bot_token)
        elif bot_token:
            workspace.bot_token = bot_token
        super().__init__(workspace, host=host, port=port)
        self.state_file = Path(state_file) if state_file else None
        self.bot = BotClient(bot_url, signing_secret, timeout=ack_timeout)
        self.hub = EventHub(self.workspace)
        self.web = SandboxWeb(self.workspace, self.bot, commands=commands, hub=self.hub)
        api = self.app
        self.app = Starlette(routes=[*self.web.routes(api), *api.routes])
        self._state: StateFile | None = None
        if self.state_file is not None:
            self._state = StateFile(self.workspace, self.state_file, delay=save_delay)
            self.hub.add_listener(self._state.changed)
            self._state.save()

    @property
    def page_url(self) -> str:
        return self.url

    @property
    def started(self) -> bool:
        """Whether the server listens (from ``start()`` or ``serve()``)."""
        return self._server is not None and self._server.started

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
        config = uvicorn.Config(
            self.app,
            host=self.host,
            port=self.port,
            log_config=None,
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
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
