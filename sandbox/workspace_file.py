"""A workspace saved to a JSON file and loaded from it, so the sandbox keeps its history across restarts.

``to_dict``/``from_dict`` are the JSON shape; :class:`StateFile` saves shortly after every change;
:func:`load_workspace` starts from the saved file, or from the demo workspace if there is none.
The tokens are not saved: each start has its own (random unless given), so a file, even one an older
version wrote with the old public token in it, never decides what the Web API accepts.
"""

from __future__ import annotations

import copy
import json
import logging
import re
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from sandbox.demo_workspace import demo_workspace
from sandbox.state import Channel, User, Workspace

__all__ = ["StateFile", "from_dict", "load", "load_workspace", "save", "to_dict"]

log = logging.getLogger(__name__)

SAVED = (  # no tokens: see above; from_dict ignores those an older file holds
    "team_id",
    "team_name",
    "domain",
    "bot_user_id",
    "bot_id",
    "app_id",
    "streaming",
    "canvases_enabled",
)


def to_dict(workspace: Workspace) -> dict[str, Any]:
    with workspace.lock:
        return copy.deepcopy(
            {
                **{name: getattr(workspace, name) for name in SAVED},
                "channels": [asdict(c) for c in workspace.channels.values()],
                "users": [asdict(u) for u in workspace.users.values()],
                "messages": workspace.messages,
                "ephemerals": workspace.ephemerals,
                "views": workspace.views,
                "canvases": workspace.canvases,
                "last_us": workspace.last_us,
            }
        )


def from_dict(data: dict[str, Any]) -> Workspace:
    workspace = Workspace(**{name: data[name] for name in SAVED if name in data})
    workspace.users = {u["id"]: User(**u) for u in data.get("users", [])}
    workspace.channels = {c["id"]: Channel(**c) for c in data.get("channels", [])}
    workspace.messages = {k: list(v) for k, v in data.get("messages", {}).items()}
    workspace.ephemerals = list(data.get("ephemerals", []))
    workspace.views = dict(data.get("views", {}))
    workspace.canvases = dict(data.get("canvases", {}))
    known = [*workspace.users, *workspace.channels, *workspace.views, *workspace.canvases]
    numbers = [int(i[1:], 16) for i in known if re.fullmatch(r"[0-9A-F]{8}", i[1:])]
    workspace.resume(next_id=1 + max(numbers, default=0), last_us=int(data.get("last_us", 0)))
    return workspace


def save(workspace: Workspace, path: str | Path) -> None:
    """Write ``workspace`` to ``path`` at once (through a temporary file, so a crash leaves the old one)."""
    target = Path(path)
    temporary = target.with_suffix(target.suffix + ".tmp")
    temporary.write_text(json.dumps(to_dict(workspace), indent=1, ensure_ascii=False), encoding="utf-8")
    temporary.replace(target)


def load(path: str | Path) -> Workspace:
    return from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


def load_workspace(
    state_file: str | Path | None, *, bot_token: str | None = None, app_token: str | None = None
) -> Workspace:
    """The saved workspace, or the demo one if there is none yet, with these tokens (random ones if
    None). A file that cannot be read is kept aside (``.broken-<time>``) and a fresh demo workspace starts."""
    workspace: Workspace | None = None
    path = Path(state_file) if state_file else None
    if path is not None and path.exists():
        try:
            workspace = load(path)
        except (ValueError, KeyError, TypeError) as error:
            aside = path.with_name(f"{path.name}.broken-{int(time.time())}")
            path.replace(aside)
            log.warning("sandbox: could not read %s (%s); moved it to %s and started afresh", path, error, aside)
    if workspace is None:
        workspace = demo_workspace()
    if bot_token:
        workspace.bot_token = bot_token  # the bot's SLACK_BOT_TOKEN is what the Web API accepts
    if app_token:
        workspace.app_token = app_token
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
                save(self.workspace, self.path)
            except OSError:
                log.exception("sandbox: could not save the workspace to %s", self.path)

    def flush(self) -> None:
        with self._lock:
            timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
        self.save()
