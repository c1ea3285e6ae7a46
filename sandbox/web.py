"""The sandbox page: a Slack-like channel view over a Workspace, and what its buttons send to the bot.

Routes (all JSON unless said otherwise):

* ``GET /`` the page; ``GET /static/...`` its script and style.
* ``GET /events?user=U`` server-sent events: one ``data: {"type": ...}`` line per change the
  user may see (messages, their own ephemerals and modals). The page refetches its state on each.
* ``GET /sandbox/state?user=U`` what user U sees: channels, messages, their ephemerals, their open modal
  (without ``user``: the first person in the workspace).
* ``POST /sandbox/command`` ``{user, channel, text}``: a slash command, sent signed to the bot as Slack does.
* ``POST /sandbox/message`` ``{user, channel, text, thread_ts?}``: a person's plain message.
* ``POST /sandbox/action`` ``{user, channel, message_ts | ephemeral_ts, block_id, action_id}``: a button,
  as block_actions.
* ``POST /sandbox/submit`` ``{user, view_id, values: {block_id: {action_id: value}}}``: a modal, as view_submission.
* ``POST /sandbox/close`` ``{user, view_id}``: closes a modal (view_closed if the view asked for it).
* ``POST /sandbox/dismiss`` ``{user, ts}``: dismisses an ephemeral message.
* ``POST /response/{token}``: the response_urls given to the bot, with ``replace_original`` and
  ``delete_original`` for the message an action came from; anything else goes to the Web API's handler.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sandbox.bot_client import BotClient, BotReply
from sandbox.events import Event, EventHub
from sandbox.state import RESPONSE_URL_USES, Channel, User, Workspace
from sandbox.validation import block_errors, view_errors

__all__ = ["STATIC_DIR", "SandboxWeb"]

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
KEEPALIVE_SECONDS = 15.0
SLACKBOT = "Slackbot"


# ------------------------------------------------------------------ small helpers


class BadRequest(Exception):
    def __init__(self, error: str, status: int = 400) -> None:
        super().__init__(error)
        self.error, self.status = error, status


def escape(text: str) -> str:
    """What Slack stores for text a person typed: & < > escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _flag(value: Any) -> bool:
    return value in (True, 1, "1", "true", "True")


def _find_element(blocks: Sequence[dict[str, Any]], block_id: str, action_id: str) -> dict[str, Any] | None:
    for block in blocks or []:
        if block.get("block_id") != block_id:
            continue
        elements = [*block.get("elements", []), *([block["accessory"]] if block.get("accessory") else [])]
        for element in elements:
            if element.get("action_id") == action_id:
                return element
    return None


def _with_block_ids(blocks: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
    """Slack gives every block without a block_id a generated one; so does the sandbox, when it
    sends a message to the bot, so an action always names its block."""
    if blocks is None:
        return None
    return [{**block, "block_id": block.get("block_id") or f"b{n}"} for n, block in enumerate(blocks)]


@dataclass(frozen=True)
class _Original:
    """The message an action came from, for its response_url's replace_original/delete_original."""

    channel: str
    ts: str
    ephemeral: bool


# ------------------------------------------------------------------ the page's server side


class SandboxWeb:
    """The page's routes over one Workspace, sending to the bot through ``bot``."""

    def __init__(
        self,
        workspace: Workspace,
        bot: BotClient,
        *,
        commands: Sequence[str] = ("/research",),
        verification_token: str = "sandbox-verification-token",
        hub: EventHub | None = None,
    ) -> None:
        self.workspace, self.bot = workspace, bot
        self.commands = tuple(commands)
        self.verification_token = verification_token
        self.hub = hub or EventHub(workspace)
        self.hub.add_listener(self._track_views)
        self.deliveries: list[tuple[str, dict[str, Any], BotReply]] = []  # what was sent, newest last
        self._lock = threading.Lock()
        self._modals: dict[str, list[str]] = {}  # user -> open view ids, the top one last
        self._view_errors: dict[str, dict[str, str]] = {}
        self._originals: dict[str, _Original] = {}  # response_url token -> the message it may replace
        self._api_app: ASGIApp | None = None

    def routes(self, api_app: ASGIApp) -> list[BaseRoute]:
        """The page's routes; ``api_app`` answers the response_urls this layer does not handle itself."""
        self._api_app = api_app
        return [
            Route("/", self.page, methods=["GET"]),
            Route("/events", self.events, methods=["GET"]),
            Route("/sandbox/state", self.state, methods=["GET"]),
            Route("/sandbox/command", self.command, methods=["POST"]),
            Route("/sandbox/message", self.message, methods=["POST"]),
            Route("/sandbox/action", self.action, methods=["POST"]),
            Route("/sandbox/submit", self.submit, methods=["POST"]),
            Route("/sandbox/close", self.close_view, methods=["POST"]),
            Route("/sandbox/dismiss", self.dismiss, methods=["POST"]),
            Route("/response/{token}", _ResponseUrl(self), methods=["POST"]),
            Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
        ]

    # -------------------------------------------------------------- who and where

    def _user(self, user_id: Any) -> User:
        user = self.workspace.users.get(str(user_id or ""))
        if user is None or user.is_bot:
            raise BadRequest("user_not_found")
        return user

    def _channel(self, channel_id: Any, user: User) -> Channel:
        channel = self.workspace.channel(str(channel_id or ""))
        if channel is None or not self._can_see(channel, user.id):
            raise BadRequest("channel_not_found")
        return channel

    @staticmethod
    def _can_see(channel: Channel, user_id: str) -> bool:
        return user_id in channel.members or not (channel.is_private or channel.is_im)

    def _visible(self, event: Event, user_id: str) -> bool:
        kind = event["type"]
        if kind.startswith("ephemeral"):
            return event["message"]["user"] == user_id
        if kind.startswith("view"):
            return event["view"].get("user") == user_id
        where = event.get("channel")
        channel_id = where.get("id", "") if isinstance(where, dict) else str(where or "")  # channel_created
        channel = self.workspace.channels.get(channel_id)
        return channel is None or self._can_see(channel, user_id)

    @staticmethod
    def _summary(event: Event) -> Event:
        """What a stream says about an event: enough to know what changed, not the content."""
        summary: Event = {"type": event["type"]}
        if isinstance(event.get("channel"), str):
            summary["channel"] = event["channel"]
        if "message" in event:
            summary["ts"] = event["message"].get("ts")
            if event["message"].get("thread_ts"):
                summary["thread_ts"] = event["message"]["thread_ts"]
            if event["type"].startswith("ephemeral"):
                summary["channel"] = event["message"].get("channel")
        if "view" in event:
            summary["view_id"] = event["view"].get("id")
        if "ts" in event:
            summary["ts"] = event["ts"]
        return summary

    # -------------------------------------------------------------- modals

    def _track_views(self, event: Event) -> None:
        if event["type"] == "view_opened":
            view = event["view"]
            with self._lock:
                stack = self._modals.setdefault(view["user"], [])
                if view["id"] not in stack:
                    stack.append(view["id"])

    def open_view(self, user_id: str) -> dict[str, Any] | None:
        """The modal ``user_id`` sees (the top of their stack), with the errors it shows."""
        with self._lock:
            stack = list(self._modals.get(user_id, []))
        with self.workspace.lock:
            while stack and stack[-1] not in self.workspace.views:
                stack.pop()
            if not stack:
                return None
            view = copy.deepcopy(self.workspace.views[stack[-1]])
        view["errors"] = self._view_errors.get(view["id"], {})
        view["stack_depth"] = len(stack)
        return view

    def _close(self, user_id: str, view_id: str, *, everything: bool = False) -> None:
        with self._lock:
            stack = self._modals.get(user_id, [])
            closed = list(stack) if everything else [v for v in stack if v == view_id]
            self._modals[user_id] = [] if everything else [v for v in stack if v != view_id]
            for closed_id in closed:
                self._view_errors.pop(closed_id, None)
        for closed_id in closed:
            self.hub.publish({"type": "view_closed", "view": {"id": closed_id, "user": user_id}})

    # -------------------------------------------------------------- what Slack puts in every payload

    def _user_object(self, user: User) -> dict[str, Any]:
        return {"id": user.id, "username": user.name, "name": user.name, "team_id": self.workspace.team_id}

    def _team_object(self) -> dict[str, Any]:
        return {"id": self.workspace.team_id, "domain": self.workspace.domain}

    def _response_url(self, request: Request, channel: Channel, user: User, original: _Original | None = None) -> str:
        token = self.workspace.issue_response_url_token(channel.id, user.id)
        if original is not None:
            with self._lock:
                self._originals[token] = original
        return f"{str(request.base_url).rstrip('/')}/response/{token}"

    async def _deliver(self, kind: str, sent: dict[str, Any]) -> BotReply:
        reply = await (self.bot.send_command(sent) if kind == "command" else self.bot.send_payload(sent))
        with self._lock:
            self.deliveries = [*self.deliveries[-199:], (kind, sent, reply)]
        if reply.error:
            log.warning("sandbox: %s to the bot failed with %s: %s", kind, reply.error, reply.detail)
        return reply

    def _slackbot_says(self, channel: Channel, user: User, text: str, detail: str = "") -> None:
        self.workspace.post_ephemeral(
            channel.id, user.id, text=text, username=SLACKBOT, sandbox_error=True, detail=detail
        )

    # -------------------------------------------------------------- routes

    async def page(self, request: Request) -> Response:
        return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-store"})

    async def state(self, request: Request) -> Response:
        return await _answer(self._state, request)

    async def _state(self, request: Request) -> dict[str, Any]:
        ws = self.workspace
        wanted = request.query_params.get("user")
        default = next((u.id for u in ws.users.values() if not u.is_bot), None)
        user = self._user(wanted or default)
        with ws.lock:
            channels = [c for c in ws.channels.values() if self._can_see(c, user.id) and not c.is_archived]
            messages = {c.id: copy.deepcopy(ws.messages.get(c.id, [])) for c in channels}
            ephemerals = [copy.deepcopy(e) for e in ws.ephemerals if e["user"] == user.id]
            users = [
                {"id": u.id, "name": u.name, "real_name": u.real_name, "is_bot": u.is_bot} for u in ws.users.values()
            ]
        return {
            "ok": True,
            "team": {"id": ws.team_id, "name": ws.team_name, "domain": ws.domain},
            "me": user.id,
            "bot_user_id": ws.bot_user_id,
            "bot_url": self.bot.url,
            "commands": list(self.commands),
            "users": users,
            "channels": [
                {
                    "id": c.id,
                    "name": c.name,
                    "is_private": c.is_private,
                    "is_im": c.is_im,
                    "is_member": user.id in c.members,
                }
                for c in sorted(channels, key=lambda c: c.name)
            ],
            "messages": messages,
            "ephemerals": ephemerals,
            "view": self.open_view(user.id),
        }

    async def events(self, request: Request) -> Response:
        try:
            user = self._user(request.query_params.get("user"))
        except BadRequest as error:
            return JSONResponse({"ok": False, "error": error.error}, status_code=400)
        stream = self.hub.open_stream()

        async def lines() -> AsyncIterator[str]:
            try:
                yield "retry: 1000\n\n"
                yield f"data: {json.dumps({'type': 'hello', 'user': user.id})}\n\n"
                while True:
                    try:
                        event = await asyncio.wait_for(stream.queue.get(), KEEPALIVE_SECONDS)
                    except TimeoutError:
                        yield ": keepalive\n\n"
                        continue
                    if event is None:
                        return
                    if self._visible(event, user.id):
                        yield f"data: {json.dumps(self._summary(event))}\n\n"
            finally:
                self.hub.close_stream(stream)

        return StreamingResponse(
            lines(), media_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        )

    async def message(self, request: Request) -> Response:
        return await _answer(self._message, request)

    async def _message(self, request: Request) -> dict[str, Any]:
        data = await _json_body(request)
        user = self._user(data.get("user"))
        channel = self._channel(data.get("channel"), user)
        text = str(data.get("text") or "").strip()
        if not text:
            raise BadRequest("no_text")
        thread_ts = data.get("thread_ts") or None
        if thread_ts and self.workspace.message(channel.id, thread_ts) is None:
            raise BadRequest("thread_not_found")
        if user.id not in channel.members:
            self.workspace.join(channel.id, user.id)
        posted = self.workspace.post(channel.id, user=user.id, text=escape(text), thread_ts=thread_ts)
        return {"ok": True, "ts": posted["ts"]}

    async def command(self, request: Request) -> Response:
        return await _answer(self._command, request)

    async def _command(self, request: Request) -> dict[str, Any]:
        data = await _json_body(request)
        user = self._user(data.get("user"))
        channel = self._channel(data.get("channel"), user)
        name, _, text = str(data.get("text") or "").strip().partition(" ")
        if name not in self.commands:
            self._slackbot_says(
                channel,
                user,
                f"`{escape(name)}` is not a valid command. In Slack, messages that "
                "start with “/” are commands; to send one as a message, start it with a space.",
            )
            return {"ok": False, "error": "invalid_command"}
        ws = self.workspace
        fields = {
            "token": self.verification_token,
            "team_id": ws.team_id,
            "team_domain": ws.domain,
            "channel_id": channel.id,
            "channel_name": "directmessage"
            if channel.is_im
            else "privategroup"
            if channel.is_private
            else channel.name,
            "user_id": user.id,
            "user_name": user.name,
            "command": name,
            "text": text.strip(),
            "api_app_id": ws.app_id,
            "is_enterprise_install": "false",
            "response_url": self._response_url(request, channel, user),
            "trigger_id": ws.issue_trigger(user.id),
        }
        reply = await self._deliver("command", fields)
        if reply.error:
            self._slackbot_says(channel, user, f'{escape(name)} failed with the error "{reply.error}"', reply.detail)
            return {"ok": False, "error": reply.error, "detail": reply.detail}
        self._show_ack(reply, channel, user, f"{name} {text}".strip())
        return {"ok": True}

    def _show_ack(self, reply: BotReply, channel: Channel, user: User, typed: str) -> None:
        """A command's HTTP answer, as Slack shows it: a body is a message, ephemeral unless in_channel."""
        body = reply.json()
        if body is None:
            if reply.text and not reply.text.startswith(("{", "[")):
                self.workspace.post_ephemeral(channel.id, user.id, text=reply.text)
            return
        content = {"text": str(body.get("text") or ""), "blocks": _with_block_ids(body.get("blocks"))}
        if not content["text"] and not content["blocks"]:
            return
        if content["blocks"] and block_errors(content["blocks"]):
            self._slackbot_says(
                channel,
                user,
                f'{escape(typed.split(" ")[0])} failed with the error "invalid_blocks"',
                "; ".join(block_errors(content["blocks"])[:3]),
            )
            return
        if body.get("response_type") == "in_channel":
            self.workspace.post(channel.id, user=user.id, text=escape(typed))
            self.workspace.post(channel.id, **content)
        else:
            self.workspace.post_ephemeral(channel.id, user.id, **content)

    async def action(self, request: Request) -> Response:
        return await _answer(self._action, request)

    async def _action(self, request: Request) -> dict[str, Any]:
        data = await _json_body(request)
        user = self._user(data.get("user"))
        channel = self._channel(data.get("channel"), user)
        block_id, action_id = str(data.get("block_id") or ""), str(data.get("action_id") or "")
        ws = self.workspace
        container: dict[str, Any] = {"channel_id": channel.id}
        message: dict[str, Any] | None = None
        if data.get("ephemeral_ts"):
            with ws.lock:
                source = next(
                    (
                        copy.deepcopy(e)
                        for e in ws.ephemerals
                        if e["ts"] == data["ephemeral_ts"] and e["user"] == user.id
                    ),
                    None,
                )
            if source is None:
                raise BadRequest("message_not_found", 404)
            container.update(type="message", message_ts=source["ts"], is_ephemeral=True)
            original = _Original(channel.id, source["ts"], ephemeral=True)
        else:
            with ws.lock:
                stored = ws.message(channel.id, str(data.get("message_ts") or ""))
                source = message = copy.deepcopy(stored) if stored else None
            if message is None:
                raise BadRequest("message_not_found", 404)
            container.update(type="message", message_ts=message["ts"], is_ephemeral=False)
            if message.get("thread_ts"):
                container["thread_ts"] = message["thread_ts"]
            original = _Original(channel.id, message["ts"], ephemeral=False)
        element = _find_element(_with_block_ids(source.get("blocks")) or [], block_id, action_id)
        if element is None:
            raise BadRequest("action_not_found", 404)
        action = {
            "type": element.get("type", "button"),
            "action_id": action_id,
            "block_id": block_id,
            "text": element.get("text"),
            "value": element.get("value", ""),
            "action_ts": ws.new_ts(),
        }
        if element.get("style"):
            action["style"] = element["style"]
        payload: dict[str, Any] = {
            "type": "block_actions",
            "user": self._user_object(user),
            "api_app_id": ws.app_id,
            "token": self.verification_token,
            "container": container,
            "trigger_id": ws.issue_trigger(user.id),
            "team": self._team_object(),
            "enterprise": None,
            "is_enterprise_install": False,
            "channel": {"id": channel.id, "name": channel.name},
            "state": {"values": {}},
            "response_url": self._response_url(request, channel, user, original),
            "actions": [action],
        }
        if message is not None:
            payload["message"] = {**message, "blocks": _with_block_ids(message.get("blocks")) or []}
        reply = await self._deliver("block_actions", payload)
        if reply.error:
            return {"ok": False, "error": reply.error, "detail": reply.detail}
        return {"ok": True}

    async def submit(self, request: Request) -> Response:
        return await _answer(self._submit, request)

    async def _submit(self, request: Request) -> dict[str, Any]:
        data = await _json_body(request)
        user = self._user(data.get("user"))
        ws = self.workspace
        view_id = str(data.get("view_id") or "")
        with ws.lock:
            stored = ws.views.get(view_id)
            if stored is None or stored.get("user") != user.id:
                raise BadRequest("view_not_found", 404)
            values = {
                block_id: {
                    action_id: {"type": "plain_text_input", "value": value if value != "" else None}
                    for action_id, value in (actions or {}).items()
                }
                for block_id, actions in (data.get("values") or {}).items()
            }
            stored["state"] = {"values": values}
            view = {k: v for k, v in copy.deepcopy(stored).items() if k != "user"}
        payload = {
            "type": "view_submission",
            "team": self._team_object(),
            "user": self._user_object(user),
            "api_app_id": ws.app_id,
            "token": self.verification_token,
            "trigger_id": ws.issue_trigger(user.id),
            "view": view,
            "response_urls": [],
            "enterprise": None,
            "is_enterprise_install": False,
        }
        reply = await self._deliver("view_submission", payload)
        if reply.error:
            return {"ok": False, "error": reply.error, "detail": reply.detail}
        body = reply.json() or {}
        response_action = body.get("response_action")
        if response_action == "errors":
            errors = {str(k): str(v) for k, v in (body.get("errors") or {}).items()}
            with self._lock:
                self._view_errors[view_id] = errors
            self.hub.publish({"type": "view_errors", "view": {"id": view_id, "user": user.id}})
            return {"ok": False, "response_action": "errors", "errors": errors}
        if response_action in ("update", "push"):
            new_view = body.get("view")
            if problems := view_errors(new_view):
                return {"ok": False, "error": "invalid_view", "detail": "; ".join(problems[:3])}
            with self._lock:
                self._view_errors.pop(view_id, None)
            if response_action == "update":
                ws.update_view(view_id, new_view)
            else:
                ws.open_view(new_view, user.id)
            return {"ok": True, "response_action": response_action}
        self._close(user.id, view_id, everything=response_action == "clear")
        return {"ok": True, "response_action": response_action or "close"}

    async def close_view(self, request: Request) -> Response:
        return await _answer(self._close_view, request)

    async def _close_view(self, request: Request) -> dict[str, Any]:
        data = await _json_body(request)
        user = self._user(data.get("user"))
        view_id = str(data.get("view_id") or "")
        with self.workspace.lock:
            stored = copy.deepcopy(self.workspace.views.get(view_id))
        if stored is None or stored.get("user") != user.id:
            raise BadRequest("view_not_found", 404)
        self._close(user.id, view_id)
        if stored.get("notify_on_close"):
            payload = {
                "type": "view_closed",
                "team": self._team_object(),
                "user": self._user_object(user),
                "api_app_id": self.workspace.app_id,
                "token": self.verification_token,
                "view": {k: v for k, v in stored.items() if k != "user"},
                "is_cleared": False,
                "enterprise": None,
                "is_enterprise_install": False,
            }
            reply = await self._deliver("view_closed", payload)
            if reply.error:
                return {"ok": False, "error": reply.error, "detail": reply.detail}
        return {"ok": True}

    async def dismiss(self, request: Request) -> Response:
        return await _answer(self._dismiss, request)

    async def _dismiss(self, request: Request) -> dict[str, Any]:
        data = await _json_body(request)
        user = self._user(data.get("user"))
        ws = self.workspace
        with ws.lock:
            gone = [e for e in ws.ephemerals if e["ts"] == data.get("ts") and e["user"] == user.id]
            ws.ephemerals[:] = [e for e in ws.ephemerals if e not in gone]
        for message in gone:
            self.hub.publish({"type": "ephemeral_deleted", "message": message})
        return {"ok": bool(gone)}

    # -------------------------------------------------------------- response_url: replace or delete the original

    def take_original(self, token: str) -> tuple[_Original | None, str | None]:
        """Spend one use of a response_url that knows its original message: (original, None),
        (None, None) if it knows none, or (None, error) if it is used up."""
        with self._lock:
            original = self._originals.get(token)
        if original is None:
            return None, None
        with self.workspace.lock:
            target = self.workspace.response_urls.get(token)
            if target is None or target["uses"] >= RESPONSE_URL_USES:
                return None, "used_url" if target else "expired_url"
            target["uses"] += 1
        return original, None

    def replace_original(self, original: _Original, body: dict[str, Any]) -> None:
        ws = self.workspace
        content = {"text": str(body.get("text") or ""), "blocks": _with_block_ids(body.get("blocks")) or []}
        delete = _flag(body.get("delete_original"))
        if original.ephemeral:
            with ws.lock:
                found = next((e for e in ws.ephemerals if e["ts"] == original.ts), None)
                if found is not None:
                    if delete:
                        ws.ephemerals.remove(found)
                    else:
                        found.update(content)
                event = copy.deepcopy(found) if found else None
            if event is not None:
                self.hub.publish({"type": "ephemeral_deleted" if delete else "ephemeral_changed", "message": event})
            return
        if delete:
            with ws.lock:
                messages = ws.messages.get(original.channel, [])
                messages[:] = [m for m in messages if m["ts"] != original.ts]
            self.hub.publish({"type": "message_deleted", "channel": original.channel, "ts": original.ts})
            return
        if ws.message(original.channel, original.ts) is not None:
            ws.update(original.channel, original.ts, **content)


class _ResponseUrl:
    """``POST /response/{token}`` as an ASGI app: a replace_original or delete_original for the
    message an action came from is handled here; everything else goes on to the Web API's handler."""

    def __init__(self, web: SandboxWeb) -> None:
        self.web = web

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        try:
            data = json.loads(body) if body.strip() else {}
        except json.JSONDecodeError:
            data = {}
        token = scope["path_params"]["token"]
        if isinstance(data, dict) and (_flag(data.get("replace_original")) or _flag(data.get("delete_original"))):
            original, error = self.web.take_original(token)
            if error:
                await JSONResponse({"ok": False, "error": error}, status_code=404)(scope, receive, send)
                return
            if original is not None:
                self.web.replace_original(original, data)
                await JSONResponse({"ok": True})(scope, receive, send)
                return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        assert self.web._api_app is not None
        await self.web._api_app(scope, replay, send)


async def _json_body(request: Request) -> dict[str, Any]:
    try:
        data = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise BadRequest("invalid_json") from None
    if not isinstance(data, dict):
        raise BadRequest("invalid_json")
    return data


async def _answer(handler: Callable[[Request], Any], request: Request) -> Response:
    try:
        return JSONResponse(await handler(request))
    except BadRequest as error:
        return JSONResponse({"ok": False, "error": error.error}, status_code=error.status)
