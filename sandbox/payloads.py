"""What Slack sends a bot, built the way Slack builds it: a slash command's form fields, and the
block_actions, view_submission and view_closed payloads of interactivity.

The sandbox page sends these for the clicks people make on it; tests and benchmarks send the same
ones to the real bot. A command is posted form-encoded (:func:`command_body`), an interaction as
one ``payload=<json>`` field (:func:`interaction_body`), both signed (:mod:`sandbox.signing`).
Each payload carries what Slack puts in every one: team, user, api_app_id, token, a fresh trigger_id
(issued by the workspace, so views.open accepts it) and, for commands and buttons, a response_url.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from sandbox.state import Channel, User, Workspace

__all__ = [
    "VERIFICATION_TOKEN",
    "app_home_opened",
    "app_mention",
    "assistant_thread_started",
    "block_actions",
    "channel_message",
    "command_body",
    "command_form",
    "event_body",
    "event_callback",
    "feedback_choice",
    "im_message",
    "input_values",
    "interaction_body",
    "url_verification",
    "view_closed",
    "view_submission",
    "with_block_ids",
]

VERIFICATION_TOKEN = "sandbox-verification-token"  # Slack's deprecated verification token; bots ignore it


def command_body(fields: Mapping[str, str]) -> str:
    """A slash command's request body: its fields, form-encoded."""
    return urlencode(dict(fields))


def event_body(payload: Mapping[str, Any]) -> str:
    """An Events API request's body: the JSON itself (sent as application/json)."""
    return json.dumps(payload, separators=(",", ":"))


def interaction_body(payload: Mapping[str, Any]) -> str:
    """An interaction's request body: ``payload=<json>``, form-encoded."""
    return urlencode({"payload": json.dumps(payload, separators=(",", ":"))})


def with_block_ids(blocks: Sequence[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
    """Slack gives every block without a block_id a generated one, so an action always names its block."""
    if blocks is None:
        return None
    return [{**block, "block_id": block.get("block_id") or f"b{n}"} for n, block in enumerate(blocks)]


def input_values(values: Mapping[str, Mapping[str, str | None]]) -> dict[str, dict[str, dict[str, Any]]]:
    """A view's ``state.values`` for plain-text inputs: ``{block_id: {action_id: typed}}`` as Slack
    reports it (an input left empty has the value None)."""
    return {
        block_id: {
            action_id: {"type": "plain_text_input", "value": value if value != "" else None}
            for action_id, value in (actions or {}).items()
        }
        for block_id, actions in values.items()
    }


def _user(ws: Workspace, user: User) -> dict[str, Any]:
    return {"id": user.id, "username": user.name, "name": user.name, "team_id": user.team_id or ws.team_id}


def _team(ws: Workspace) -> dict[str, Any]:
    return {"id": ws.team_id, "domain": ws.domain}


def _channel_name(channel: Channel) -> str:
    if channel.is_im:
        return "directmessage"
    return "privategroup" if channel.is_private else channel.name


def command_form(
    ws: Workspace,
    *,
    channel: Channel,
    user: User,
    text: str,
    response_url: str,
    command: str = "/research",
    token: str = VERIFICATION_TOKEN,
) -> dict[str, str]:
    """The form fields of ``command text`` typed by ``user`` in ``channel``."""
    return {
        "token": token,
        "team_id": ws.team_id,
        "team_domain": ws.domain,
        "channel_id": channel.id,
        "channel_name": _channel_name(channel),
        "user_id": user.id,
        "user_name": user.name,
        "command": command,
        "text": text,
        "api_app_id": ws.app_id,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": ws.issue_trigger(user.id),
    }


def feedback_choice(feedback: dict[str, Any], choice: object) -> dict[str, Any] | None:
    """The clicked half (``positive`` or ``negative``) of a feedback_buttons element, as Slack reports
    the action: the element's type and action_id with that button's text and value."""
    button = feedback.get(f"{choice}_button") if choice in ("positive", "negative") else None
    if not isinstance(button, dict):
        return None
    return {"type": "feedback_buttons", "action_id": feedback.get("action_id", ""), **button}


def block_actions(
    ws: Workspace,
    *,
    channel: Channel,
    user: User,
    source: dict[str, Any],
    element: dict[str, Any],
    block_id: str,
    response_url: str,
    ephemeral: bool = False,
    token: str = VERIFICATION_TOKEN,
) -> dict[str, Any]:
    """``user`` clicked ``element`` (a button) in block ``block_id`` of ``source``, a message in
    ``channel`` (or an ephemeral one, which Slack does not send back to the bot)."""
    container: dict[str, Any] = {
        "type": "message",
        "message_ts": source["ts"],
        "channel_id": channel.id,
        "is_ephemeral": ephemeral,
    }
    if source.get("thread_ts") and not ephemeral:
        container["thread_ts"] = source["thread_ts"]
    action = {
        "type": element.get("type", "button"),
        "action_id": element.get("action_id", ""),
        "block_id": block_id,
        "text": element.get("text"),
        "value": element.get("value", ""),
        "action_ts": ws.new_ts(),
    }
    if element.get("style"):
        action["style"] = element["style"]
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": _user(ws, user),
        "api_app_id": ws.app_id,
        "token": token,
        "container": container,
        "trigger_id": ws.issue_trigger(user.id),
        "team": _team(ws),
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel.id, "name": channel.name},
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [action],
    }
    if not ephemeral:
        payload["message"] = {**copy.deepcopy(source), "blocks": with_block_ids(source.get("blocks")) or []}
    return payload


def _as_sent(view: dict[str, Any]) -> dict[str, Any]:
    """A stored view as Slack sends it back: id, callback_id, private_metadata, state..., without
    the sandbox's own note of whose it is."""
    return {key: value for key, value in copy.deepcopy(view).items() if key != "user"}


def view_submission(
    ws: Workspace, *, user: User, view: dict[str, Any], token: str = VERIFICATION_TOKEN
) -> dict[str, Any]:
    """``user`` submitted ``view`` (with its ``state.values`` as typed: see :func:`input_values`)."""
    return {
        "type": "view_submission",
        "team": _team(ws),
        "user": _user(ws, user),
        "api_app_id": ws.app_id,
        "token": token,
        "trigger_id": ws.issue_trigger(user.id),
        "view": _as_sent(view),
        "response_urls": [],
        "enterprise": None,
        "is_enterprise_install": False,
    }


def view_closed(ws: Workspace, *, user: User, view: dict[str, Any], token: str = VERIFICATION_TOKEN) -> dict[str, Any]:
    """``user`` closed ``view``, which asked for notify_on_close."""
    return {
        "type": "view_closed",
        "team": _team(ws),
        "user": _user(ws, user),
        "api_app_id": ws.app_id,
        "token": token,
        "view": _as_sent(view),
        "is_cleared": False,
        "enterprise": None,
        "is_enterprise_install": False,
    }


# ------------------------------------------------------------------ the Events API
# https://docs.slack.dev/apis/events-api/ : each event comes wrapped in an event_callback.


def url_verification(challenge: str, token: str = VERIFICATION_TOKEN) -> dict[str, Any]:
    """What Slack sends once to a new Events API request URL; the app answers with the challenge."""
    return {"token": token, "challenge": challenge, "type": "url_verification"}


def event_callback(
    ws: Workspace, event: dict[str, Any], *, event_id: str | None = None, token: str = VERIFICATION_TOKEN
) -> dict[str, Any]:
    """``event`` wrapped as Slack delivers it: this app and workspace, a fresh event_id (a retry of the
    same delivery keeps its event_id), the one authorization it is visible to."""
    return {
        "token": token,
        "team_id": ws.team_id,
        "api_app_id": ws.app_id,
        "event": copy.deepcopy(event),
        "type": "event_callback",
        "event_id": event_id or f"Ev{ws.new_ts().replace('.', '')}",
        "event_time": int(float(event.get("event_ts") or ws.clock())),
        "authorizations": [
            {"team_id": ws.team_id, "user_id": ws.bot_user_id, "is_bot": True, "is_enterprise_install": False}
        ],
        "is_ext_shared_channel": False,
    }


def _message_fields(ws: Workspace, channel: Channel, message: dict[str, Any]) -> dict[str, Any]:
    fields = {
        "user": message["user"],
        "text": message.get("text", ""),
        "ts": message["ts"],
        "team": ws.team_id,
        "channel": channel.id,
        "event_ts": message["ts"],
        "client_msg_id": message.get("client_msg_id") or f"{message['ts']}-{message['user']}",
    }
    if message.get("thread_ts") and message["thread_ts"] != message["ts"]:
        fields["thread_ts"] = message["thread_ts"]
    if message.get("files"):  # files attached to the message, as Slack describes them (sandbox/files.py)
        fields["files"] = message["files"]
        fields["upload"] = False
    if (user := ws.users.get(message["user"])) is not None and user.team_id:  # Slack Connect: their own team
        fields["user_team"] = fields["source_team"] = user.team_id
    return fields


def app_mention(ws: Workspace, *, channel: Channel, message: dict[str, Any]) -> dict[str, Any]:
    """The app_mention event for a person's ``message`` that mentions the bot in ``channel``
    (https://docs.slack.dev/reference/events/app_mention)."""
    return {"type": "app_mention", **_message_fields(ws, channel, message)}


def im_message(ws: Workspace, *, channel: Channel, message: dict[str, Any]) -> dict[str, Any]:
    """The message.im event for ``message`` in a DM with the bot
    (https://docs.slack.dev/reference/events/message.im); an edit or a bot's message has its subtype."""
    fields = {"type": "message", "channel_type": "im", **_message_fields(ws, channel, message)}
    for key in ("subtype", "bot_id"):
        if message.get(key):
            fields[key] = message[key]
    if message.get("files") and "user" in message and "bot_id" not in message:  # a person's message with files
        fields.setdefault("subtype", "file_share")
    return fields


def channel_message(ws: Workspace, *, channel: Channel, message: dict[str, Any]) -> dict[str, Any]:
    """The message.channels (or, private, message.groups) event for a person's ``message`` in a channel the
    bot is in (https://docs.slack.dev/reference/events/message.channels); a reply in a thread carries its
    thread_ts and the thread's parent_user_id."""
    fields = {"type": "message", "channel_type": "group" if channel.is_private else "channel"}
    fields |= _message_fields(ws, channel, message)
    if "thread_ts" in fields and (parent := ws.message(channel.id, fields["thread_ts"])):
        fields["parent_user_id"] = parent["user"]
    return fields


def app_home_opened(ws: Workspace, *, user: User, channel: Channel, tab: str = "messages") -> dict[str, Any]:
    """Someone opened the app's Messages (or Home) tab: in the agent experience, the DM pane opening
    (https://docs.slack.dev/reference/events/app_home_opened)."""
    return {"type": "app_home_opened", "user": user.id, "channel": channel.id, "tab": tab, "event_ts": ws.new_ts()}


def assistant_thread_started(ws: Workspace, *, user: User, channel: Channel, thread_ts: str) -> dict[str, Any]:
    """A new assistant thread in the pane, in the assistant experience
    (https://docs.slack.dev/reference/events/assistant_thread_started/)."""
    return {
        "type": "assistant_thread_started",
        "assistant_thread": {
            "user_id": user.id,
            "context": {"team_id": ws.team_id},
            "channel_id": channel.id,
            "thread_ts": thread_ts,
        },
        "event_ts": ws.new_ts(),
    }
