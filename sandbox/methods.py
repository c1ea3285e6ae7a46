"""The Slack Web API methods the sandbox answers about messages, conversations, users and views.

The streaming methods, the DM pane's and canvases' live in streams.py, assistant.py and canvases.py;
what a method is, and the readers of params they share, in method_kit.py.
"""

from __future__ import annotations

import base64
from typing import Any

from sandbox.method_kit import (
    Method,
    Params,
    SlackError,
    channel_of,
    check_writable,
    flag,
    metadata_of,
    read_json,
    registrar,
)
from sandbox.state import Channel, Workspace
from sandbox.validation import MAX_BLOCKS_TEXT, MAX_MESSAGE_TEXT, block_errors, blocks_text_length, view_errors

__all__ = ["METHODS"]

METHODS: dict[str, Method] = {}
method = registrar(METHODS)


# ------------------------------------------------------------------ reading params


def _check_readable(ws: Workspace, channel: Channel) -> None:
    if ws.bot_user_id not in channel.members:
        raise SlackError("channel_not_found" if channel.is_im else "not_in_channel")


def _content(params: Params) -> dict[str, Any]:
    text = params.get("text") or ""
    blocks = read_json(params, "blocks", "invalid_blocks_format")
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
    channel = channel_of(ws, params)
    check_writable(ws, channel)
    content, metadata = _content(params), metadata_of(params)
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
    channel = channel_of(ws, params)
    message = ws.message(channel.id, str(params.get("ts") or ""))
    if message is None:
        raise SlackError("message_not_found")
    if message["user"] != ws.bot_user_id:
        raise SlackError("cant_update_message")
    updated = ws.update(channel.id, message["ts"], **_content(params), metadata=metadata_of(params))
    return {"channel": channel.id, "ts": updated["ts"], "text": updated["text"], "message": updated}


@method("chat.postEphemeral")
def chat_post_ephemeral(ws: Workspace, params: Params) -> dict[str, Any]:
    channel = channel_of(ws, params)
    check_writable(ws, channel)
    user = str(params.get("user") or "")
    if user not in ws.users:
        raise SlackError("user_not_found")
    if user not in channel.members:
        raise SlackError("user_not_in_channel")
    message = ws.post_ephemeral(channel.id, user, **_content(params), thread_ts=params.get("thread_ts"))
    return {"message_ts": message["ts"]}


@method("chat.getPermalink")
def chat_get_permalink(ws: Workspace, params: Params) -> dict[str, Any]:
    channel = channel_of(ws, params)
    message = ws.message(channel.id, str(params.get("message_ts") or ""))
    if message is None:
        raise SlackError("message_not_found")
    link = f"{ws.url}archives/{channel.id}/p{message['ts'].replace('.', '')}"
    if message.get("thread_ts", message["ts"]) != message["ts"]:
        link += f"?thread_ts={message['thread_ts']}&cid={channel.id}"
    return {"channel": channel.id, "permalink": link}


@method("conversations.history")
def conversations_history(ws: Workspace, params: Params) -> dict[str, Any]:
    channel = channel_of(ws, params)
    _check_readable(ws, channel)
    return {**_page(_within(ws.history(channel.id), params), params), "pin_count": 0}


@method("conversations.replies")
def conversations_replies(ws: Workspace, params: Params) -> dict[str, Any]:
    channel = channel_of(ws, params)
    _check_readable(ws, channel)
    thread = ws.replies(channel.id, str(params.get("ts") or ""))
    if not thread:
        raise SlackError("thread_not_found")
    return _page(_within(thread, params), params)


@method("conversations.join")
def conversations_join(ws: Workspace, params: Params) -> dict[str, Any]:
    channel = channel_of(ws, params)
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
    channel = channel_of(ws, params)
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
    view = read_json(params, "view", "invalid_arguments")
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
