"""The Slack Web API methods the sandbox answers, each a function of (workspace, params).

A method returns the fields of its ``{"ok": true, ...}`` answer, or raises :class:`SlackError`
with one of the error codes Slack documents for it. Params arrive as Slack receives them:
strings from a form or query string, or JSON values from a JSON body.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

from sandbox.state import Channel, Workspace
from sandbox.validation import MAX_BLOCKS_TEXT, MAX_MESSAGE_TEXT, block_errors, blocks_text_length, view_errors

__all__ = ["METHODS", "SlackError"]

Params = dict[str, Any]
Method = Callable[[Workspace, Params], dict[str, Any]]
METHODS: dict[str, Method] = {}


class SlackError(Exception):
    """An ``{"ok": false, "error": code, ...}`` answer."""

    def __init__(self, code: str, **extra: Any) -> None:
        super().__init__(code)
        self.code, self.extra = code, extra


def method(name: str) -> Callable[[Method], Method]:
    def register(function: Method) -> Method:
        METHODS[name] = function
        return function

    return register


# ------------------------------------------------------------------ reading params


def flag(value: Any) -> bool:
    return value in (True, 1, "1", "true", "True")


def _json(params: Params, key: str, error: str) -> Any:
    value = params.get(key)
    if isinstance(value, str) and value:
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            raise SlackError(error) from None
    return value or None


def _channel(ws: Workspace, params: Params) -> Channel:
    channel = ws.channel(str(params.get("channel") or ""))
    if channel is None:
        raise SlackError("channel_not_found")
    return channel


def _check_writable(ws: Workspace, channel: Channel) -> None:
    if channel.is_archived:
        raise SlackError("is_archived")
    if ws.bot_user_id in channel.members:
        return
    if channel.is_im:
        raise SlackError("channel_not_found")
    if channel.is_private:
        raise SlackError("not_in_channel")
    # A public channel: chat:write.public lets the bot post without joining.


def _check_readable(ws: Workspace, channel: Channel) -> None:
    if ws.bot_user_id not in channel.members:
        raise SlackError("channel_not_found" if channel.is_im else "not_in_channel")


def _content(params: Params) -> dict[str, Any]:
    text = params.get("text") or ""
    blocks = _json(params, "blocks", "invalid_blocks_format")
    if not text and not blocks and not params.get("attachments"):
        raise SlackError("no_text")
    if len(text) > MAX_MESSAGE_TEXT:
        raise SlackError("msg_too_long")
    if blocks is not None:
        if errors := block_errors(blocks):
            raise SlackError("invalid_blocks", response_metadata={"messages": errors})
        if blocks_text_length(blocks) > MAX_BLOCKS_TEXT:
            raise SlackError("msg_blocks_too_long")
    return {"text": text, "blocks": blocks}


def _metadata(params: Params) -> dict[str, Any] | None:
    metadata = _json(params, "metadata", "invalid_metadata_format")
    if metadata is None:
        return None
    if not (
        isinstance(metadata, dict)
        and isinstance(metadata.get("event_type"), str)
        and isinstance(metadata.get("event_payload", {}), dict)
    ):
        raise SlackError("invalid_metadata_format")
    return {"event_type": metadata["event_type"], "event_payload": metadata.get("event_payload", {})}


def _page(items: list[dict[str, Any]], params: Params) -> dict[str, Any]:
    """Cursor paging as Slack does it: ``limit``, ``cursor`` in, ``response_metadata.next_cursor`` out."""
    limit = max(1, min(int(params.get("limit") or 100), 1000))
    cursor = str(params.get("cursor") or "")
    try:
        start = int(base64.b64decode(cursor).decode().removeprefix("next_ts:")) if cursor else 0
    except ValueError:
        raise SlackError("invalid_cursor") from None
    end = start + limit
    more = end < len(items)
    next_cursor = base64.b64encode(f"next_ts:{end}".encode()).decode() if more else ""
    return {"messages": items[start:end], "has_more": more, "response_metadata": {"next_cursor": next_cursor}}


def _within(items: list[dict[str, Any]], params: Params) -> list[dict[str, Any]]:
    oldest, latest = float(params.get("oldest") or 0), float(params.get("latest") or "inf")
    inclusive = flag(params.get("inclusive"))
    keep = (lambda ts: oldest <= ts <= latest) if inclusive else (lambda ts: oldest < ts < latest)
    with_metadata = flag(params.get("include_all_metadata"))
    return [m if with_metadata else _without_metadata(m) for m in items if keep(float(m["ts"]))]


def _without_metadata(message: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in message.items() if k != "metadata"}


def _channel_info(ws: Workspace, channel: Channel) -> dict[str, Any]:
    return {
        "id": channel.id,
        "name": channel.name,
        "created": channel.created,
        "is_channel": not channel.is_private and not channel.is_im,
        "is_group": channel.is_private and not channel.is_im,
        "is_im": channel.is_im,
        "is_private": channel.is_private,
        "is_archived": channel.is_archived,
        "is_member": ws.bot_user_id in channel.members,
        "num_members": len(channel.members),
    }


# ------------------------------------------------------------------ methods


@method("auth.test")
def auth_test(ws: Workspace, params: Params) -> dict[str, Any]:
    bot = ws.users[ws.bot_user_id]
    return {
        "url": ws.url,
        "team": ws.team_name,
        "user": bot.name,
        "team_id": ws.team_id,
        "user_id": ws.bot_user_id,
        "bot_id": ws.bot_id,
        "app_id": ws.app_id,
        "is_enterprise_install": False,
    }


@method("chat.postMessage")
def chat_post_message(ws: Workspace, params: Params) -> dict[str, Any]:
    channel = _channel(ws, params)
    _check_writable(ws, channel)
    content, metadata = _content(params), _metadata(params)
    thread_ts = params.get("thread_ts") or None
    if thread_ts:
        parent = ws.message(channel.id, thread_ts)
        if parent is None:
            raise SlackError("thread_not_found")
        thread_ts = parent.get("thread_ts", thread_ts)  # a reply's ts stands for its thread
    message = ws.post(
        channel.id,
        **content,
        thread_ts=thread_ts,
        metadata=metadata,
        reply_broadcast=bool(thread_ts) and flag(params.get("reply_broadcast")),
    )
    return {"channel": channel.id, "ts": message["ts"], "message": message}


@method("chat.update")
def chat_update(ws: Workspace, params: Params) -> dict[str, Any]:
    channel = _channel(ws, params)
    message = ws.message(channel.id, str(params.get("ts") or ""))
    if message is None:
        raise SlackError("message_not_found")
    if message["user"] != ws.bot_user_id:
        raise SlackError("cant_update_message")
    updated = ws.update(channel.id, message["ts"], **_content(params), metadata=_metadata(params))
    return {"channel": channel.id, "ts": updated["ts"], "text": updated["text"], "message": updated}


@method("chat.postEphemeral")
def chat_post_ephemeral(ws: Workspace, params: Params) -> dict[str, Any]:
    channel = _channel(ws, params)
    _check_writable(ws, channel)
    user = str(params.get("user") or "")
    if user not in ws.users:
        raise SlackError("user_not_found")
    if user not in channel.members:
        raise SlackError("user_not_in_channel")
    message = ws.post_ephemeral(channel.id, user, **_content(params), thread_ts=params.get("thread_ts"))
    return {"message_ts": message["ts"]}


@method("chat.getPermalink")
def chat_get_permalink(ws: Workspace, params: Params) -> dict[str, Any]:
    channel = _channel(ws, params)
    message = ws.message(channel.id, str(params.get("message_ts") or ""))
    if message is None:
        raise SlackError("message_not_found")
    link = f"{ws.url}archives/{channel.id}/p{message['ts'].replace('.', '')}"
    if message.get("thread_ts", message["ts"]) != message["ts"]:
        link += f"?thread_ts={message['thread_ts']}&cid={channel.id}"
    return {"channel": channel.id, "permalink": link}


@method("conversations.history")
def conversations_history(ws: Workspace, params: Params) -> dict[str, Any]:
    channel = _channel(ws, params)
    _check_readable(ws, channel)
    return {**_page(_within(ws.history(channel.id), params), params), "pin_count": 0}


@method("conversations.replies")
def conversations_replies(ws: Workspace, params: Params) -> dict[str, Any]:
    channel = _channel(ws, params)
    _check_readable(ws, channel)
    thread = ws.replies(channel.id, str(params.get("ts") or ""))
    if not thread:
        raise SlackError("thread_not_found")
    return _page(_within(thread, params), params)


@method("conversations.join")
def conversations_join(ws: Workspace, params: Params) -> dict[str, Any]:
    channel = _channel(ws, params)
    if channel.is_private and ws.bot_user_id not in channel.members:
        raise SlackError("channel_not_found")  # the bot cannot see a private channel it is not in
    if channel.is_im or channel.is_private:
        raise SlackError("method_not_supported_for_channel_type")
    if channel.is_archived:
        raise SlackError("is_archived")
    if ws.join(channel.id, ws.bot_user_id):
        return {
            "channel": _channel_info(ws, channel),
            "warning": "already_in_channel",
            "response_metadata": {"warnings": ["already_in_channel"]},
        }
    return {"channel": _channel_info(ws, channel)}


@method("conversations.info")
def conversations_info(ws: Workspace, params: Params) -> dict[str, Any]:
    channel = _channel(ws, params)
    if channel.is_private and ws.bot_user_id not in channel.members:
        raise SlackError("channel_not_found")
    return {"channel": _channel_info(ws, channel)}


@method("users.info")
def users_info(ws: Workspace, params: Params) -> dict[str, Any]:
    user = ws.users.get(str(params.get("user") or ""))
    if user is None:
        raise SlackError("user_not_found")
    profile = {"real_name": user.real_name, "display_name": user.name}
    return {
        "user": {
            "id": user.id,
            "team_id": user.team_id or ws.team_id,
            "name": user.name,
            "real_name": user.real_name,
            "is_bot": user.is_bot,
            "is_restricted": user.is_restricted or user.is_ultra_restricted,  # Slack sets both for one
            "is_ultra_restricted": user.is_ultra_restricted,
            "deleted": False,
            "tz": user.tz,
            "profile": profile,
        }
    }


def _view(params: Params) -> dict[str, Any]:
    view = _json(params, "view", "invalid_arguments")
    if errors := view_errors(view):
        raise SlackError("invalid_arguments", response_metadata={"messages": errors})
    return view


@method("views.open")
def views_open(ws: Workspace, params: Params) -> dict[str, Any]:
    view = _view(params)
    user, error = ws.use_trigger(str(params.get("trigger_id") or ""))
    if error:
        raise SlackError(error)
    return {"view": ws.open_view(view, user)}


@method("views.update")
def views_update(ws: Workspace, params: Params) -> dict[str, Any]:
    view = _view(params)
    external_id = params.get("external_id")
    view_id = params.get("view_id") or next(
        (v["id"] for v in ws.views.values() if external_id and v.get("external_id") == external_id), None
    )
    if view_id not in ws.views:
        raise SlackError("not_found")
    if params.get("hash") and params["hash"] != ws.views[view_id]["hash"]:
        raise SlackError("hash_conflict")
    return {"view": ws.update_view(view_id, view)}


# The streaming methods and the DM pane's live beside these, in their own modules; importing them registers them.
from sandbox import assistant as _assistant  # noqa: E402, F401
from sandbox import canvases as _canvases  # noqa: E402, F401
from sandbox import streams as _streams  # noqa: E402, F401
