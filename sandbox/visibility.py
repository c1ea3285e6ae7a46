"""Who sees what on the page: channels (private ones and DMs only to their members), ephemeral
messages and modals only to their own person, and what a live update may say about a change."""

from __future__ import annotations

from typing import Any

from sandbox.events import Event
from sandbox.page_io import BadRequest
from sandbox.state import Channel, User, Workspace

__all__ = ["can_see", "channel_for", "summary", "visible"]


def can_see(channel: Channel, user_id: str) -> bool:
    return user_id in channel.members or not (channel.is_private or channel.is_im)


def channel_for(workspace: Workspace, channel_id: Any, user: User) -> Channel:
    """The channel ``channel_id`` if ``user`` may see it; ``channel_not_found`` otherwise, as Slack says."""
    channel = workspace.channel(str(channel_id or ""))
    if channel is None or not can_see(channel, user.id):
        raise BadRequest("channel_not_found")
    return channel


def visible(workspace: Workspace, event: Event, user_id: str) -> bool:
    """Whether ``user_id`` may hear of ``event``."""
    kind = event["type"]
    if kind.startswith("ephemeral"):
        return event["message"]["user"] == user_id
    if kind.startswith("view"):
        return event["view"].get("user") == user_id
    where = event.get("channel")
    channel_id = where.get("id", "") if isinstance(where, dict) else str(where or "")  # channel_created
    channel = workspace.channels.get(channel_id)
    return channel is None or can_see(channel, user_id)


def summary(event: Event) -> Event:
    """What a stream says about an event: enough to know what changed, not the content."""
    said: Event = {"type": event["type"]}
    if isinstance(event.get("channel"), str):
        said["channel"] = event["channel"]
    if "message" in event:
        said["ts"] = event["message"].get("ts")
        if event["message"].get("thread_ts"):
            said["thread_ts"] = event["message"]["thread_ts"]
        if event["type"].startswith("ephemeral"):
            said["channel"] = event["message"].get("channel")
    if "view" in event:
        said["view_id"] = event["view"].get("id")
    if "ts" in event:
        said["ts"] = event["ts"]
    return said
