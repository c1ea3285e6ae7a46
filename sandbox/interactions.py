"""Delivering what people do on the page to the bot, as Slack does: a slash command, a button
(block_actions), a modal submitted (view_submission) or closed (view_closed), each signed, with a
three-second deadline, and the bot's HTTP answer shown as Slack shows it (a command's ack as a
message, ``response_action`` for a modal). When the bot fails, Slackbot says so, as on Slack.
"""

from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Sequence
from typing import Any

from starlette.requests import Request

from sandbox import payloads
from sandbox.bot_client import BotClient, BotReply
from sandbox.modals import Modals
from sandbox.page_io import BadRequest, escape, json_body, person
from sandbox.payloads import VERIFICATION_TOKEN, with_block_ids
from sandbox.response_urls import Original, ResponseUrls
from sandbox.state import Channel, User, Workspace
from sandbox.validation import block_errors, view_errors
from sandbox.visibility import channel_for

__all__ = ["SLACKBOT", "Interactions"]

log = logging.getLogger(__name__)

SLACKBOT = "Slackbot"
KEPT_DELIVERIES = 200


def _find_element(blocks: Sequence[dict[str, Any]], block_id: str, action_id: str) -> dict[str, Any] | None:
    for block in blocks or []:
        if block.get("block_id") != block_id:
            continue
        elements = [*block.get("elements", []), *([block["accessory"]] if block.get("accessory") else [])]
        for element in elements:
            if element.get("action_id") == action_id:
                return element
    return None


class Interactions:
    """The page's commands, clicks and modals, sent to the bot through ``bot``."""

    def __init__(
        self,
        workspace: Workspace,
        bot: BotClient,
        *,
        modals: Modals,
        response_urls: ResponseUrls,
        commands: Sequence[str] = ("/research",),
        verification_token: str = VERIFICATION_TOKEN,
    ) -> None:
        self.workspace, self.bot = workspace, bot
        self.modals, self.response_urls = modals, response_urls
        self.commands = tuple(commands)
        self.verification_token = verification_token
        self.deliveries: list[tuple[str, dict[str, Any], BotReply]] = []  # what was sent, newest last
        self._lock = threading.Lock()

    async def _deliver(self, kind: str, sent: dict[str, Any]) -> BotReply:
        reply = await (self.bot.send_command(sent) if kind == "command" else self.bot.send_payload(sent))
        with self._lock:
            self.deliveries = [*self.deliveries[1 - KEPT_DELIVERIES :], (kind, sent, reply)]
        if reply.error:
            log.warning("sandbox: %s to the bot failed with %s: %s", kind, reply.error, reply.detail)
        return reply

    def _slackbot_says(self, channel: Channel, user: User, text: str, detail: str = "") -> None:
        self.workspace.post_ephemeral(
            channel.id, user.id, text=text, username=SLACKBOT, sandbox_error=True, detail=detail
        )

    async def command(self, request: Request) -> dict[str, Any]:
        data = await json_body(request)
        user = person(self.workspace, data.get("user"))
        channel = channel_for(self.workspace, data.get("channel"), user)
        name, _, text = str(data.get("text") or "").strip().partition(" ")
        if name not in self.commands:
            self._slackbot_says(
                channel,
                user,
                f"`{escape(name)}` is not a valid command. In Slack, messages that "
                "start with “/” are commands; to send one as a message, start it with a space.",
            )
            return {"ok": False, "error": "invalid_command"}
        fields = payloads.command_form(
            self.workspace,
            channel=channel,
            user=user,
            command=name,
            text=text.strip(),
            response_url=self.response_urls.issue(request, channel, user),
            token=self.verification_token,
        )
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
        content = {"text": str(body.get("text") or ""), "blocks": with_block_ids(body.get("blocks"))}
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

    async def action(self, request: Request) -> dict[str, Any]:
        data = await json_body(request)
        user = person(self.workspace, data.get("user"))
        channel = channel_for(self.workspace, data.get("channel"), user)
        block_id, action_id = str(data.get("block_id") or ""), str(data.get("action_id") or "")
        ws = self.workspace
        ephemeral = bool(data.get("ephemeral_ts"))
        with ws.lock:
            if ephemeral:
                found = (e for e in ws.ephemerals if e["ts"] == data["ephemeral_ts"] and e["user"] == user.id)
                source = copy.deepcopy(next(found, None))
            else:
                source = copy.deepcopy(ws.message(channel.id, str(data.get("message_ts") or "")))
        if source is None:
            raise BadRequest("message_not_found", 404)
        element = _find_element(with_block_ids(source.get("blocks")) or [], block_id, action_id)
        if element is None:
            raise BadRequest("action_not_found", 404)
        if element.get("type") == "feedback_buttons":
            element = payloads.feedback_choice(element, data.get("choice"))
            if element is None:
                raise BadRequest("choice_not_found", 404)
        original = Original(channel.id, source["ts"], ephemeral=ephemeral)
        payload = payloads.block_actions(
            ws,
            channel=channel,
            user=user,
            source=source,
            element=element,
            block_id=block_id,
            response_url=self.response_urls.issue(request, channel, user, original),
            ephemeral=ephemeral,
            token=self.verification_token,
        )
        reply = await self._deliver("block_actions", payload)
        if reply.error:
            return {"ok": False, "error": reply.error, "detail": reply.detail}
        return {"ok": True}

    async def submit(self, request: Request) -> dict[str, Any]:
        data = await json_body(request)
        user = person(self.workspace, data.get("user"))
        ws = self.workspace
        view_id = str(data.get("view_id") or "")
        with ws.lock:
            stored = ws.views.get(view_id)
            if stored is None or stored.get("user") != user.id:
                raise BadRequest("view_not_found", 404)
            stored["state"] = {"values": payloads.input_values(data.get("values") or {})}
            view = copy.deepcopy(stored)
        payload = payloads.view_submission(ws, user=user, view=view, token=self.verification_token)
        reply = await self._deliver("view_submission", payload)
        if reply.error:
            return {"ok": False, "error": reply.error, "detail": reply.detail}
        body = reply.json() or {}
        response_action = body.get("response_action")
        if response_action == "errors":
            errors = {str(k): str(v) for k, v in (body.get("errors") or {}).items()}
            self.modals.show_errors(user.id, view_id, errors)
            return {"ok": False, "response_action": "errors", "errors": errors}
        if response_action in ("update", "push"):
            new_view = body.get("view")
            if problems := view_errors(new_view):
                return {"ok": False, "error": "invalid_view", "detail": "; ".join(problems[:3])}
            self.modals.clear_errors(view_id)
            if response_action == "update":
                ws.update_view(view_id, new_view)
            else:
                ws.open_view(new_view, user.id)
            return {"ok": True, "response_action": response_action}
        self.modals.close(user.id, view_id, everything=response_action == "clear")
        return {"ok": True, "response_action": response_action or "close"}

    async def close_view(self, request: Request) -> dict[str, Any]:
        data = await json_body(request)
        user = person(self.workspace, data.get("user"))
        view_id = str(data.get("view_id") or "")
        with self.workspace.lock:
            stored = copy.deepcopy(self.workspace.views.get(view_id))
        if stored is None or stored.get("user") != user.id:
            raise BadRequest("view_not_found", 404)
        self.modals.close(user.id, view_id)
        if stored.get("notify_on_close"):
            payload = payloads.view_closed(self.workspace, user=user, view=stored, token=self.verification_token)
            reply = await self._deliver("view_closed", payload)
            if reply.error:
                return {"ok": False, "error": reply.error, "detail": reply.detail}
        return {"ok": True}
