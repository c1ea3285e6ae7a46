"""Streaming messages: chat.startStream, chat.appendStream, chat.stopStream, as Slack documents them.

https://docs.slack.dev/reference/methods/chat.startStream
https://docs.slack.dev/reference/methods/chat.appendStream
https://docs.slack.dev/reference/methods/chat.stopStream

A streamed message is a bot message whose ``stream`` field keeps its state (``streaming`` or
``stopped``), how it streams (``chunks`` or ``markdown_text``), ``task_display_mode`` and every chunk
appended, in order; its ``text`` is the markdown streamed so far. The page shows the latest
``task_update`` of each task id as one card. A workspace made with ``streaming=False`` answers
``unknown_method``, as a Slack without these methods would.
"""

from __future__ import annotations

from typing import Any

from sandbox.method_kit import Method, Params, SlackError, channel_of, check_writable, metadata_of, read_json, registrar
from sandbox.state import Workspace
from sandbox.validation import block_errors

__all__ = ["MAX_MARKDOWN_TEXT", "METHODS", "STREAM_IDLE_SECONDS"]

METHODS: dict[str, Method] = {}
method = registrar(METHODS)

MAX_MARKDOWN_TEXT = 12_000  # "Limit this field to 12,000 characters."
# Slack ends a stream nobody appends to for a while (message_not_in_streaming_state afterwards);
# it does not say after how long. Five minutes here; tests move the workspace clock.
STREAM_IDLE_SECONDS = 300.0
TASK_STATUSES = ("pending", "in_progress", "complete", "error")
DISPLAY_MODES = ("timeline", "plan", "dense")


def _check_streaming(ws: Workspace) -> None:
    if not ws.streaming:
        raise SlackError("unknown_method")


def _chunk_valid(chunk: Any) -> bool:
    if not isinstance(chunk, dict):
        return False
    kind = chunk.get("type")
    if kind == "markdown_text":
        return isinstance(chunk.get("text"), str)
    if kind == "plan_update":
        return isinstance(chunk.get("title"), str) and bool(chunk["title"])
    if kind == "blocks":
        return isinstance(chunk.get("blocks"), list) and not block_errors(chunk["blocks"])
    if kind == "task_update":
        sources = chunk.get("sources", [])
        return (
            isinstance(chunk.get("id"), str)
            and bool(chunk["id"])
            and isinstance(chunk.get("title"), str)
            and chunk.get("status") in TASK_STATUSES
            and all(isinstance(chunk.get(k, ""), str) for k in ("details", "output"))
            and isinstance(sources, list)
            and all(
                isinstance(s, dict) and s.get("type") == "url" and isinstance(s.get("url"), str) and "text" in s
                for s in sources
            )
        )
    return False


def _stream_content(params: Params, *, required: bool) -> tuple[str | None, str, list[dict[str, Any]]]:
    """(mode, markdown text, chunks) of one call; mode None when the call carries neither."""
    text = params.get("markdown_text")
    chunks = read_json(params, "chunks", "invalid_chunks")
    if text and chunks:
        raise SlackError("cannot_provide_both_markdown_text_and_chunks")
    if chunks is not None:
        if not isinstance(chunks, list) or not all(_chunk_valid(c) for c in chunks):
            raise SlackError("invalid_chunks")
        markdown = "".join(c["text"] for c in chunks if c["type"] == "markdown_text")
        return "chunks", markdown, chunks
    if text:
        if len(str(text)) > MAX_MARKDOWN_TEXT:
            raise SlackError("invalid_arguments")  # markdown_text is limited to 12,000 characters
        return "markdown_text", str(text), []
    if required:
        raise SlackError("markdown_text_or_chunks_required")
    return None, "", []


def _streaming_message(ws: Workspace, params: Params) -> tuple[str, dict[str, Any]]:
    channel = channel_of(ws, params)
    message = ws.message(channel.id, str(params.get("ts") or ""))
    if message is None:
        raise SlackError("message_not_found")
    if message.get("app_id") != ws.app_id:
        raise SlackError("message_not_owned_by_app")
    stream = message.get("stream")
    if not stream or stream["state"] != "streaming":
        raise SlackError("message_not_in_streaming_state")
    if ws.clock() - stream["last_at"] > STREAM_IDLE_SECONDS:
        ws.update(channel.id, message["ts"], edited=False, stream={**stream, "state": "stopped"})
        raise SlackError("message_not_in_streaming_state")
    return channel.id, message


def _grow(ws: Workspace, channel_id: str, message: dict[str, Any], mode: str | None, text: str, chunks: list) -> None:
    stream = dict(message["stream"])
    if mode is not None:
        if stream["mode"] not in (None, mode):
            raise SlackError("streaming_mode_mismatch")
        stream["mode"] = mode
    stream["chunks"] = [*stream["chunks"], *chunks]
    stream["last_at"] = ws.clock()
    ws.update(channel_id, message["ts"], edited=False, text=message["text"] + text, stream=stream)


@method("chat.startStream")
def chat_start_stream(ws: Workspace, params: Params) -> dict[str, Any]:
    _check_streaming(ws)
    channel = channel_of(ws, params)
    check_writable(ws, channel)
    thread_ts = str(params.get("thread_ts") or "")
    parent = ws.message(channel.id, thread_ts) if thread_ts else None
    if parent is None:
        raise SlackError("invalid_arguments")  # thread_ts is required, and must be a message of the channel
    if not channel.is_im:  # "Required when streaming to channels."
        if not params.get("recipient_team_id"):
            raise SlackError("missing_recipient_team_id")
        if not params.get("recipient_user_id"):
            raise SlackError("missing_recipient_user_id")
    recipient = params.get("recipient_user_id")
    if recipient and recipient not in ws.users:
        raise SlackError("user_not_found")
    display = params.get("task_display_mode") or "timeline"
    if display not in DISPLAY_MODES:
        raise SlackError("invalid_arguments")
    mode, text, chunks = _stream_content(params, required=False)
    with ws.lock:
        posted = ws.post(channel.id, text=text, thread_ts=parent.get("thread_ts", parent["ts"]))
        stream = {
            "state": "streaming",
            "mode": mode,
            "task_display_mode": display,
            "recipient_user_id": recipient,
            "chunks": chunks,
            "last_at": ws.clock(),
        }
        ws.update(channel.id, posted["ts"], edited=False, stream=stream)
    return {"channel": channel.id, "ts": posted["ts"]}


@method("chat.appendStream")
def chat_append_stream(ws: Workspace, params: Params) -> dict[str, Any]:
    _check_streaming(ws)
    with ws.lock:
        channel_id, message = _streaming_message(ws, params)
        mode, text, chunks = _stream_content(params, required=True)
        _grow(ws, channel_id, message, mode, text, chunks)
    return {"channel": channel_id, "ts": message["ts"]}


@method("chat.stopStream")
def chat_stop_stream(ws: Workspace, params: Params) -> dict[str, Any]:
    _check_streaming(ws)
    with ws.lock:
        channel_id, message = _streaming_message(ws, params)
        mode, text, chunks = _stream_content(params, required=False)
        blocks = read_json(params, "blocks", "invalid_blocks")
        if blocks is not None and (not isinstance(blocks, list) or block_errors(blocks)):
            raise SlackError("invalid_blocks")
        metadata = metadata_of(params)
        _grow(ws, channel_id, message, mode, text, chunks)
        stopped = ws.message(channel_id, message["ts"])
        assert stopped is not None
        stream = {**stopped["stream"], "state": "stopped"}
        final = ws.update(channel_id, message["ts"], edited=False, stream=stream, blocks=blocks, metadata=metadata)
    return {"channel": channel_id, "ts": final["ts"], "message": final}
