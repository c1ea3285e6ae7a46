"""The DM pane's Web API methods: ``assistant.threads.setStatus``, ``setSuggestedPrompts`` and ``setTitle``,
with the arguments and errors Slack documents for them.

* setStatus (https://docs.slack.dev/reference/methods/assistant.threads.setStatus/): ``channel_id``,
  ``thread_ts``, ``status`` required; the status shows under the thread until the app replies there, or
  for two minutes; an empty status clears it.
* setSuggestedPrompts (https://docs.slack.dev/reference/methods/assistant.threads.setSuggestedPrompts/):
  ``channel_id`` and up to four ``prompts`` (each a ``title`` and a ``message``), an optional ``title``;
  ``thread_ts`` is for the assistant experience (without it the prompts are the conversation's).
* setTitle (https://docs.slack.dev/reference/methods/assistant.threads.setTitle/): ``channel_id``,
  ``thread_ts``, ``title``.

Only a DM between a person and the bot has a pane: any other channel is ``channel_not_found``.
"""

from __future__ import annotations

from typing import Any

from sandbox.method_kit import Method, Params, SlackError, read_json, registrar
from sandbox.state import Channel, Workspace

__all__ = ["MAX_PROMPTS", "METHODS", "STATUS_SECONDS", "pane_of"]

METHODS: dict[str, Method] = {}
method = registrar(METHODS)

MAX_PROMPTS = 4
STATUS_SECONDS = 120.0  # "A two minute timeout applies"


def _dm(ws: Workspace, params: Params) -> Channel:
    channel = ws.channels.get(str(params.get("channel_id") or ""))
    if channel is None or not channel.is_im or ws.bot_user_id not in channel.members:
        raise SlackError("channel_not_found")
    return channel


def _thread(ws: Workspace, channel: Channel, params: Params, required: bool = True) -> str | None:
    thread_ts = params.get("thread_ts") or None
    if thread_ts is None and not required:
        return None
    if not isinstance(thread_ts, str) or ws.message(channel.id, thread_ts) is None:
        raise SlackError("invalid_thread_ts")
    return thread_ts


def _pane(ws: Workspace, channel_id: str) -> dict[str, Any]:
    return ws.panes.setdefault(channel_id, {"status": {}, "titles": {}, "prompts": None})


def pane_of(ws: Workspace, channel_id: str) -> dict[str, Any]:
    """What the page shows of a DM's pane: prompts, titles, and the statuses not yet expired."""
    with ws.lock:
        pane = ws.panes.get(channel_id) or {"status": {}, "titles": {}, "prompts": None}
        now = ws.clock()
        status = {ts: s["text"] for ts, s in pane["status"].items() if s["until"] > now}
        return {"status": status, "titles": dict(pane["titles"]), "prompts": pane["prompts"]}


def _changed(ws: Workspace, channel_id: str) -> None:
    ws._emit({"type": "pane_changed", "channel": channel_id})


@method("assistant.threads.setStatus")
def set_status(ws: Workspace, params: Params) -> dict[str, Any]:
    with ws.lock:
        channel = _dm(ws, params)
        thread_ts = _thread(ws, channel, params)
        status = params.get("status")
        if not isinstance(status, str):
            raise SlackError("invalid_arguments")
        statuses = _pane(ws, channel.id)["status"]
        if status:
            statuses[thread_ts] = {"text": status, "until": ws.clock() + STATUS_SECONDS}
        else:
            statuses.pop(thread_ts, None)
        _changed(ws, channel.id)
    return {}


@method("assistant.threads.setSuggestedPrompts")
def set_suggested_prompts(ws: Workspace, params: Params) -> dict[str, Any]:
    with ws.lock:
        channel = _dm(ws, params)
        thread_ts = _thread(ws, channel, params, required=False)
        prompts = read_json(params, "prompts", "invalid_arguments")
        if (
            not isinstance(prompts, list)
            or not 0 < len(prompts) <= MAX_PROMPTS
            or not all(
                isinstance(p, dict) and isinstance(p.get("title"), str) and isinstance(p.get("message"), str)
                for p in prompts
            )
        ):
            raise SlackError("invalid_arguments")
        title = params.get("title")
        _pane(ws, channel.id)["prompts"] = {
            "title": title if isinstance(title, str) else "",
            "prompts": [{"title": p["title"], "message": p["message"]} for p in prompts],
            "thread_ts": thread_ts,
        }
        _changed(ws, channel.id)
    return {}


@method("assistant.threads.setTitle")
def set_title(ws: Workspace, params: Params) -> dict[str, Any]:
    with ws.lock:
        channel = _dm(ws, params)
        thread_ts = _thread(ws, channel, params)
        title = params.get("title")
        if not isinstance(title, str) or not title.strip():
            raise SlackError("invalid_arguments")
        _pane(ws, channel.id)["titles"][thread_ts] = title
        _changed(ws, channel.id)
    return {}
