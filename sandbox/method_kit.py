"""What every Web API method module is made of: its table of methods, :class:`SlackError`, and the
readers of params that several modules share.

A method is a function of (workspace, params) that returns the fields of its ``{"ok": true, ...}``
answer, or raises :class:`SlackError` with one of the error codes Slack documents for it. Params
arrive as Slack receives them: strings from a form or query string, or JSON values from a JSON body.
Each method module keeps its own ``METHODS`` table; sandbox/slack_api.py joins them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from sandbox.state import Channel, Workspace

__all__ = [
    "Method",
    "Params",
    "SlackError",
    "channel_of",
    "check_writable",
    "flag",
    "joined",
    "metadata_of",
    "read_json",
    "registrar",
]

Params = dict[str, Any]
Method = Callable[[Workspace, Params], dict[str, Any]]


class SlackError(Exception):
    """An ``{"ok": false, "error": code, ...}`` answer."""

    def __init__(self, code: str, **extra: Any) -> None:
        super().__init__(code)
        self.code, self.extra = code, extra


def registrar(table: dict[str, Method]) -> Callable[[str], Callable[[Method], Method]]:
    """The ``@method("chat.update")`` decorator of a module, adding to that module's ``table``."""

    def method(name: str) -> Callable[[Method], Method]:
        def register(function: Method) -> Method:
            table[name] = function
            return function

        return register

    return method


def joined(*tables: Mapping[str, Method]) -> dict[str, Method]:
    """The modules' tables as one; a name in two of them is a mistake, not an override."""
    methods: dict[str, Method] = {}
    for table in tables:
        if twice := methods.keys() & table.keys():
            raise ValueError(f"Web API methods defined twice: {sorted(twice)}")
        methods.update(table)
    return methods


# ------------------------------------------------------------------ reading params


def flag(value: Any) -> bool:
    return value in (True, 1, "1", "true", "True")


def read_json(params: Params, key: str, error: str) -> Any:
    """A JSON-valued param, sent as a string (a form) or as a value (a JSON body); ``error`` if unparsable."""
    value = params.get(key)
    if isinstance(value, str) and value:
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            raise SlackError(error) from None
    return value or None


def channel_of(ws: Workspace, params: Params) -> Channel:
    channel = ws.channel(str(params.get("channel") or ""))
    if channel is None:
        raise SlackError("channel_not_found")
    return channel


def check_writable(ws: Workspace, channel: Channel) -> None:
    if channel.is_archived:
        raise SlackError("is_archived")
    if ws.bot_user_id in channel.members:
        return
    if channel.is_im:
        raise SlackError("channel_not_found")
    if channel.is_private:
        raise SlackError("not_in_channel")
    # A public channel: chat:write.public lets the bot post without joining.


def metadata_of(params: Params) -> dict[str, Any] | None:
    metadata = read_json(params, "metadata", "invalid_metadata_format")
    if metadata is None:
        return None
    if not (
        isinstance(metadata, dict)
        and isinstance(metadata.get("event_type"), str)
        and isinstance(metadata.get("event_payload", {}), dict)
    ):
        raise SlackError("invalid_metadata_format")
    return {"event_type": metadata["event_type"], "event_payload": metadata.get("event_payload", {})}
