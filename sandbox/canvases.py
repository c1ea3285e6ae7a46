"""Canvases: canvases.create, canvases.access.set and files.info, as Slack documents them.

https://docs.slack.dev/reference/methods/canvases.create
https://docs.slack.dev/reference/methods/canvases.access.set
https://docs.slack.dev/reference/methods/files.info

A canvas keeps its title, its Markdown and the channels that may read it; its permalink is the
workspace's ``docs/<team>/<id>`` address, which the page opens as a document beside the channel. A
workspace made with ``canvases_enabled=False`` answers ``canvas_disabled_user_team``.
"""

from __future__ import annotations

from typing import Any

from sandbox.method_kit import Method, Params, SlackError, read_json, registrar
from sandbox.state import Workspace

__all__ = ["MAX_CANVAS_MARKDOWN", "METHODS", "canvas_url", "readable_canvases"]

METHODS: dict[str, Method] = {}
method = registrar(METHODS)

MAX_CANVAS_MARKDOWN = 1_048_576  # "The markdown content is limited to 1 MiB (1,048,576 characters)."
ACCESS_LEVELS = ("read", "write", "owner")


def canvas_url(ws: Workspace, canvas_id: str) -> str:
    return f"{ws.url}docs/{ws.team_id}/{canvas_id}"


def readable_canvases(ws: Workspace, user: str) -> list[dict[str, Any]]:
    """The canvases ``user`` may open: shared with a channel they are in."""
    with ws.lock:
        mine = {c.id for c in ws.channels.values() if user in c.members}
        return [
            {"id": canvas_id, "url": canvas_url(ws, canvas_id), "title": c["title"], "markdown": c["markdown"]}
            for canvas_id, c in ws.canvases.items()
            if mine & set(c["channels"])
        ]


@method("canvases.create")
def canvases_create(ws: Workspace, params: Params) -> dict[str, Any]:
    if not ws.canvases_enabled:
        raise SlackError("canvas_disabled_user_team")
    content = read_json(params, "document_content", "invalid_arguments") or {}
    markdown = content.get("markdown") if isinstance(content, dict) and content.get("type") == "markdown" else None
    if not isinstance(markdown, str):
        raise SlackError("invalid_arguments")
    if len(markdown) > MAX_CANVAS_MARKDOWN:
        raise SlackError("canvas_creation_failed")
    title = str(params.get("title") or "Untitled")
    with ws.lock:
        canvas_id = ws.new_id("F")
        ws.canvases[canvas_id] = {"title": title, "markdown": markdown, "channels": []}
    return {"canvas_id": canvas_id}


@method("canvases.access.set")
def canvases_access_set(ws: Workspace, params: Params) -> dict[str, Any]:
    canvas = ws.canvases.get(str(params.get("canvas_id") or ""))
    if canvas is None:
        raise SlackError("canvas_not_found")
    if params.get("access_level") not in ACCESS_LEVELS:
        raise SlackError("invalid_arguments")
    channels = [c.strip() for c in str(params.get("channel_ids") or "").split(",") if c.strip()]
    if not channels and not params.get("user_ids"):
        raise SlackError("invalid_arguments")
    if any(ws.channel(c) is None for c in channels):
        raise SlackError("channel_not_found")
    with ws.lock:
        canvas["channels"] = list(dict.fromkeys([*canvas["channels"], *channels]))
    return {}


def canvas_info(ws: Workspace, params: Params) -> dict[str, Any]:
    """files.info of a canvas (sandbox/files.py answers the method, for canvases and files alike)."""
    file_id = str(params.get("file") or "")
    canvas = ws.canvases.get(file_id)
    if canvas is None:
        raise SlackError("file_not_found")
    return {
        "file": {
            "id": file_id,
            "title": canvas["title"],
            "filetype": "canvas",
            "permalink": canvas_url(ws, file_id),
            "channels": list(canvas["channels"]),
        }
    }
