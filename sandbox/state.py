"""The state of a sandbox Slack workspace: channels, users, messages, ephemerals, views.

The Web API server (``sandbox.slack_api``) reads and changes a :class:`Workspace`; tests
and the sandbox page inspect it directly. Messages are kept in the shape Slack's API
returns them, so serving them is a copy; :mod:`sandbox.workspace_file` saves and loads them as JSON.
All access goes through one lock: the server runs in its own thread.
"""

from __future__ import annotations

import copy
import itertools
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from sandbox.credentials import new_app_token, new_bot_token

__all__ = ["Channel", "User", "Workspace"]

Listener = Callable[[dict[str, Any]], None]

TRIGGER_TTL_SECONDS = 3.0  # Slack's trigger_id lifetime
RESPONSE_URL_USES = 5  # a response_url answers five times


@dataclass
class Channel:
    id: str
    name: str
    is_private: bool = False
    is_im: bool = False
    is_archived: bool = False
    members: list[str] = field(default_factory=list)
    created: int = field(default_factory=lambda: int(time.time()))


@dataclass
class User:
    id: str
    name: str
    real_name: str = ""
    is_bot: bool = False
    tz: str = "UTC"
    is_restricted: bool = False  # a multi-channel guest
    is_ultra_restricted: bool = False  # a single-channel guest
    team_id: str | None = None  # None: the workspace's; another team's: someone in a Slack Connect channel


class Workspace:
    """One Slack workspace with one installed bot."""

    def __init__(
        self,
        *,
        team_id: str = "T0SANDBOX",
        team_name: str = "Sandbox",
        domain: str = "sandbox",
        bot_token: str | None = None,
        app_token: str | None = None,
        bot_user_id: str = "U0BOT",
        bot_id: str = "B0BOT",
        app_id: str = "A0BOT",
        bot_name: str = "researchbot",
        streaming: bool = True,
        canvases_enabled: bool = True,
    ) -> None:
        self.team_id, self.team_name, self.domain = team_id, team_name, domain
        # Random unless given: a token everyone knows would let any page in the browser post as the bot.
        self.bot_token = bot_token or new_bot_token()
        self.app_token = app_token or new_app_token()  # app-level (xapp-): only apps.connections.open, Socket Mode
        self.bot_user_id, self.bot_id, self.app_id = bot_user_id, bot_id, app_id
        self.streaming = streaming  # False: a workspace without chat.startStream and friends (unknown_method)
        self.canvases_enabled = canvases_enabled  # False: canvases turned off (canvas_disabled_user_team)
        self.canvases: dict[str, dict[str, Any]] = {}  # canvas id -> title, markdown, channels that may read it
        self.files: dict[str, dict[str, Any]] = {}  # file id -> name, bytes, shares (sandbox.files)
        self.channels: dict[str, Channel] = {}
        self.users: dict[str, User] = {}
        self.messages: dict[str, list[dict[str, Any]]] = {}  # channel id -> messages, oldest first
        self.ephemerals: list[dict[str, Any]] = []
        self.views: dict[str, dict[str, Any]] = {}
        self.triggers: dict[str, dict[str, Any]] = {}
        self.response_urls: dict[str, dict[str, Any]] = {}
        # The DM pane (sandbox.assistant): by DM channel id, its suggested prompts, thread titles and the
        # status line shown in a thread until the bot's next reply there.
        self.panes: dict[str, dict[str, Any]] = {}
        self.clock: Callable[[], float] = time.time
        self.lock = threading.RLock()
        self._listeners: list[Listener] = []
        self._ids = itertools.count(1)
        self.last_us = 0  # the newest message timestamp, in microseconds
        self.add_user(bot_name, id=bot_user_id, real_name="ResearchBot", is_bot=True)

    @property
    def url(self) -> str:
        return f"https://{self.domain}.slack.com/"

    # ------------------------------------------------------------ people and places

    def new_id(self, prefix: str) -> str:
        """A fresh Slack-style id (``F0000001A`` for a file, say)."""
        with self.lock:
            return self._new_id(prefix)

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):08X}"

    def add_user(self, name: str, *, id: str | None = None, real_name: str = "", is_bot: bool = False) -> User:
        with self.lock:
            user = User(id=id or self._new_id("U"), name=name, real_name=real_name or name, is_bot=is_bot)
            self.users[user.id] = user
            return user

    def add_channel(
        self,
        name: str,
        *,
        id: str | None = None,
        private: bool = False,
        im: bool = False,
        members: Iterable[str] = (),
        bot_member: bool = False,
    ) -> Channel:
        with self.lock:
            prefix = "D" if im else "C"
            channel = Channel(id=id or self._new_id(prefix), name=name, is_private=private or im, is_im=im)
            channel.members = list(dict.fromkeys([*members, *([self.bot_user_id] if bot_member else [])]))
            self.channels[channel.id] = channel
            self.messages.setdefault(channel.id, [])
            self._emit({"type": "channel_created", "channel": asdict(channel)})
            return channel

    def channel(self, id_or_name: str) -> Channel | None:
        """Find a channel by id, or by name with or without '#', as Slack does."""
        with self.lock:
            if id_or_name in self.channels:
                return self.channels[id_or_name]
            name = id_or_name.removeprefix("#")
            return next((c for c in self.channels.values() if c.name == name), None)

    def join(self, channel_id: str, user_id: str) -> bool:
        """Add a member; answer whether they were already in."""
        with self.lock:
            channel = self.channels[channel_id]
            if user_id in channel.members:
                return True
            channel.members.append(user_id)
            self._emit({"type": "member_joined_channel", "channel": channel_id, "user": user_id})
            return False

    # ------------------------------------------------------------ messages

    def new_ts(self) -> str:
        """A message timestamp: unique and increasing, like Slack's."""
        with self.lock:
            self.last_us = max(int(self.clock() * 1_000_000), self.last_us + 1)
            return f"{self.last_us // 1_000_000}.{self.last_us % 1_000_000:06d}"

    def post(
        self,
        channel_id: str,
        *,
        user: str | None = None,
        text: str = "",
        blocks: list[dict[str, Any]] | None = None,
        thread_ts: str | None = None,
        reply_broadcast: bool = False,
        metadata: dict[str, Any] | None = None,
        files: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        with self.lock:
            author = user or self.bot_user_id
            message: dict[str, Any] = {"type": "message", "user": author, "text": text, "ts": self.new_ts()}
            if author == self.bot_user_id:
                message.update(bot_id=self.bot_id, app_id=self.app_id)
            if blocks:
                message["blocks"] = copy.deepcopy(blocks)
            if thread_ts:
                message["thread_ts"] = thread_ts
                if reply_broadcast:
                    message["subtype"] = "thread_broadcast"
                if author == self.bot_user_id:  # the app's reply clears its status line in that thread
                    self.panes.get(channel_id, {}).get("status", {}).pop(thread_ts, None)
            if metadata:
                message["metadata"] = copy.deepcopy(metadata)
            if files:  # a share of uploaded files (sandbox.files), as Slack shows one
                message.update(files=copy.deepcopy(files), upload=True)
            self.messages.setdefault(channel_id, []).append(message)
            self._emit({"type": "message", "channel": channel_id, "message": copy.deepcopy(message)})
            return copy.deepcopy(message)

    def message(self, channel_id: str, ts: str) -> dict[str, Any] | None:
        with self.lock:
            return next((m for m in self.messages.get(channel_id, []) if m["ts"] == ts), None)

    def update(self, channel_id: str, ts: str, *, edited: bool = True, **changes: Any) -> dict[str, Any]:
        """Change text, blocks or metadata of a stored message (fields left out are kept). A stream's
        appends are not edits (``edited=False``)."""
        with self.lock:
            message = self.message(channel_id, ts)
            if message is None:
                raise KeyError(ts)
            message.update({k: copy.deepcopy(v) for k, v in changes.items() if v is not None})
            if edited:
                message["edited"] = {"user": self.bot_user_id, "ts": self.new_ts()}
            self._emit({"type": "message_changed", "channel": channel_id, "message": copy.deepcopy(message)})
            return copy.deepcopy(message)

    def history(self, channel_id: str) -> list[dict[str, Any]]:
        """What the channel shows, newest first: top-level messages and broadcast replies."""
        with self.lock:
            shown = [
                m
                for m in self.messages.get(channel_id, [])
                if m.get("thread_ts", m["ts"]) == m["ts"] or m.get("subtype") == "thread_broadcast"
            ]
            return [self._with_thread_info(channel_id, m) for m in reversed(shown)]

    def replies(self, channel_id: str, thread_ts: str) -> list[dict[str, Any]]:
        """A thread, oldest first: its parent, then the replies."""
        with self.lock:
            parent = self.message(channel_id, thread_ts)
            if parent is None:
                return []
            replies = self._replies_to(channel_id, thread_ts)
            return [self._with_thread_info(channel_id, parent), *map(copy.deepcopy, replies)]

    def _replies_to(self, channel_id: str, ts: str) -> list[dict[str, Any]]:
        return [m for m in self.messages[channel_id] if m.get("thread_ts") == ts and m["ts"] != ts]

    def _with_thread_info(self, channel_id: str, message: dict[str, Any]) -> dict[str, Any]:
        shown = copy.deepcopy(message)
        replies = self._replies_to(channel_id, message["ts"])
        if replies:
            shown.update(
                thread_ts=message["ts"],
                reply_count=len(replies),
                reply_users=sorted({m["user"] for m in replies}),
                latest_reply=replies[-1]["ts"],
            )
        return shown

    def post_ephemeral(self, channel_id: str, user_id: str, **content: Any) -> dict[str, Any]:
        with self.lock:
            message = {"channel": channel_id, "user": user_id, "ts": self.new_ts(), **copy.deepcopy(content)}
            self.ephemerals.append(message)
            self._emit({"type": "ephemeral", "message": copy.deepcopy(message)})
            return copy.deepcopy(message)

    # ------------------------------------------------------------ triggers, views, response_urls

    def issue_trigger(self, user_id: str, ttl: float = TRIGGER_TTL_SECONDS) -> str:
        with self.lock:
            trigger_id = f"{next(self._ids)}.{secrets.token_hex(8)}"
            self.triggers[trigger_id] = {"user": user_id, "expires_at": self.clock() + ttl, "used": False}
            return trigger_id

    def use_trigger(self, trigger_id: str) -> tuple[str | None, str | None]:
        """Spend a trigger: (user, None), or (None, Slack's error code)."""
        with self.lock:
            trigger = self.triggers.get(trigger_id)
            if trigger is None:
                return None, "invalid_trigger_id"
            if trigger["used"]:
                return None, "exchanged_trigger_id"
            if self.clock() >= trigger["expires_at"]:
                return None, "expired_trigger_id"
            trigger["used"] = True
            return trigger["user"], None

    def open_view(self, view: dict[str, Any], user_id: str) -> dict[str, Any]:
        with self.lock:
            view_id = self._new_id("V")
            stored = {
                **copy.deepcopy(view),
                "id": view_id,
                "team_id": self.team_id,
                "app_id": self.app_id,
                "bot_id": self.bot_id,
                "user": user_id,
                "state": {"values": {}},
                "hash": secrets.token_hex(8),
                "root_view_id": view_id,
                "private_metadata": view.get("private_metadata", ""),
                "callback_id": view.get("callback_id", ""),
            }
            self.views[view_id] = stored
            self._emit({"type": "view_opened", "view": copy.deepcopy(stored)})
            return copy.deepcopy(stored)

    def update_view(self, view_id: str, view: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            stored = self.views[view_id]
            keep = {k: stored[k] for k in ("id", "team_id", "app_id", "bot_id", "user", "state", "root_view_id")}
            self.views[view_id] = {**copy.deepcopy(view), **keep, "hash": secrets.token_hex(8)}
            self._emit({"type": "view_updated", "view": copy.deepcopy(self.views[view_id])})
            return copy.deepcopy(self.views[view_id])

    def issue_response_url_token(self, channel_id: str, user_id: str) -> str:
        with self.lock:
            token = secrets.token_urlsafe(12)
            self.response_urls[token] = {"channel": channel_id, "user": user_id, "uses": 0}
            return token

    # ------------------------------------------------------------ listeners; loading (sandbox.workspace_file)

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(event)`` after every change; returns the unsubscribe function.
        Listeners run in the server's thread, holding the workspace lock: hand the event
        off (``loop.call_soon_threadsafe``), do not block."""
        with self.lock:
            self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def _emit(self, event: dict[str, Any]) -> None:
        for listener in list(self._listeners):
            listener(event)

    def resume(self, *, next_id: int, last_us: int) -> None:
        """After loading: new ids and timestamps continue after the loaded ones."""
        with self.lock:
            self._ids = itertools.count(next_id)
            self.last_us = last_us
