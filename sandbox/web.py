"""The sandbox page: a Slack-like channel view over a Workspace, and what its buttons send to the bot.

This module wires the routes; each job has its own module: who sees what (:mod:`sandbox.visibility`),
the live updates (:mod:`sandbox.event_stream`), modals (:mod:`sandbox.modals`), response_urls
(:mod:`sandbox.response_urls`) and delivering commands, clicks and modals to the bot
(:mod:`sandbox.interactions`). Only the page may use its ``POST /sandbox/...`` endpoints: JSON, this
server's own Host and Origin, and the token written into the page (:mod:`sandbox.page_guard`).

Routes (all JSON unless said otherwise):

* ``GET /`` the page; ``GET /static/...`` its script and style.
* ``GET /events?user=U`` server-sent events: one ``data: {"type": ...}`` line per change the
  user may see (messages, their own ephemerals and modals). The page refetches its state on each.
* ``GET /sandbox/state?user=U`` what user U sees: channels, messages, their ephemerals, their open modal
  (without ``user``: the first person in the workspace).
* ``POST /sandbox/command`` ``{user, channel, text}``: a slash command, sent signed to the bot as Slack does.
* ``POST /sandbox/message`` ``{user, channel, text, thread_ts?, files?: [{name, content_base64}]}``: a person's
  plain message, with the files attached to it shared in it (:mod:`sandbox.files`; the events carry them).
  ``@researchbot`` in it becomes the bot's mention, delivered as an ``app_mention`` event where the bot is a
  member; in a DM with the bot the message is delivered as a ``message.im`` event, and any other message in a
  channel the bot is in (a reply in a run's thread too, with its ``thread_ts``) as ``message.channels``
  (``message.groups`` if private; a mention goes only as ``app_mention``) (:mod:`sandbox.event_delivery`:
  signed, retried with X-Slack-Retry-Num when the bot fails).
* ``POST /sandbox/open_dm`` ``{user}``: the person opens the bot's Messages tab (the DM pane): the DM is
  made if there is none, and ``app_home_opened`` (tab ``messages``) is delivered.
* ``POST /sandbox/action`` ``{user, channel, message_ts | ephemeral_ts, block_id, action_id}``: a button,
  as block_actions.
* ``POST /sandbox/submit`` ``{user, view_id, values: {block_id: {action_id: value}}}``: a modal, as view_submission.
* ``POST /sandbox/close`` ``{user, view_id}``: closes a modal (view_closed if the view asked for it).
* ``POST /sandbox/dismiss`` ``{user, ts}``: dismisses an ephemeral message.
* ``POST /response/{token}``: the response_urls given to the bot, with ``replace_original`` and
  ``delete_original`` for the message an action came from; anything else goes to the Web API's handler.
"""

from __future__ import annotations

import base64
import binascii
import copy
import mimetypes
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp

from sandbox import files, payloads
from sandbox.assistant import pane_of
from sandbox.bot_client import BotClient
from sandbox.canvases import readable_canvases
from sandbox.event_delivery import SLACK_RETRY_DELAYS, EventDelivery
from sandbox.event_stream import EventStream
from sandbox.events import EventHub
from sandbox.interactions import Interactions
from sandbox.modals import Modals
from sandbox.page_guard import PageGuard
from sandbox.page_io import BadRequest, answer, escape, json_body, person
from sandbox.payloads import VERIFICATION_TOKEN
from sandbox.response_urls import ResponseUrls
from sandbox.state import Channel, User, Workspace
from sandbox.visibility import can_see, channel_for

__all__ = ["STATIC_DIR", "SandboxWeb"]

STATIC_DIR = Path(__file__).resolve().parent / "static"
mimetypes.add_type("text/javascript", ".js")  # ES modules load only as JavaScript; some systems lack .js


MAX_ATTACHED = 10  # Slack's own limit on files in one message


def attached_files(value: object) -> list[tuple[str, bytes]]:
    """The files the page attached to a message: (name, bytes) each; BadRequest for a malformed list."""
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > MAX_ATTACHED:
        raise BadRequest("invalid_files")
    attached = []
    for item in value:
        name = item.get("name") if isinstance(item, dict) else None
        encoded = item.get("content_base64") if isinstance(item, dict) else None
        if not isinstance(name, str) or not name.strip() or "/" in name or not isinstance(encoded, str):
            raise BadRequest("invalid_files")
        try:
            content = base64.b64decode(encoded, validate=True)
        except binascii.Error:
            raise BadRequest("invalid_files") from None
        if not content or len(content) > files.MAX_FILE_BYTES:
            raise BadRequest("invalid_files")
        attached.append((name.strip(), content))
    return attached


class SandboxWeb:
    """The page's routes over one Workspace, sending to the bot through ``bot``."""

    def __init__(
        self,
        workspace: Workspace,
        bot: BotClient,
        *,
        commands: Sequence[str] = ("/research",),
        verification_token: str = VERIFICATION_TOKEN,
        hub: EventHub | None = None,
        event_retry_delays: Sequence[float] = SLACK_RETRY_DELAYS,
        verify_events_url: bool = False,
    ) -> None:
        self.workspace, self.bot = workspace, bot
        self.hub = hub or EventHub(workspace)
        self.events = EventDelivery(workspace, bot, retry_delays=event_retry_delays, verify_url=verify_events_url)
        self.guard = PageGuard()
        self.modals = Modals(workspace, self.hub)
        self.response_urls = ResponseUrls(workspace, self.hub)
        self.interactions = Interactions(
            workspace,
            bot,
            modals=self.modals,
            response_urls=self.response_urls,
            commands=commands,
            verification_token=verification_token,
        )

    def routes(self, api_app: ASGIApp) -> list[BaseRoute]:
        """The page's routes; ``api_app`` answers the response_urls this layer does not handle itself."""
        self.response_urls.api_app = api_app
        own, page_api, interactions = self.guard.same_host, self.guard.page_api, self.interactions
        return [
            Route("/", own(self.page), methods=["GET"]),
            Route("/events", own(EventStream(self.workspace, self.hub).respond), methods=["GET"]),
            Route("/sandbox/state", own(answer(self.state)), methods=["GET"]),
            Route("/sandbox/command", page_api(answer(interactions.command)), methods=["POST"]),
            Route("/sandbox/message", page_api(answer(self.message)), methods=["POST"]),
            Route("/sandbox/open_dm", page_api(answer(self.open_dm)), methods=["POST"]),
            Route("/sandbox/action", page_api(answer(interactions.action)), methods=["POST"]),
            Route("/sandbox/submit", page_api(answer(interactions.submit)), methods=["POST"]),
            Route("/sandbox/close", page_api(answer(interactions.close_view)), methods=["POST"]),
            Route("/sandbox/dismiss", page_api(answer(self.dismiss)), methods=["POST"]),
            Route("/response/{token}", self.response_urls, methods=["POST"]),
            Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
        ]

    async def page(self, request: Request) -> Response:
        """The page, carrying this server's token for its requests."""
        page = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
        return HTMLResponse(self.guard.with_token(page), headers={"Cache-Control": "no-store"})

    async def state(self, request: Request) -> dict[str, Any]:
        ws = self.workspace
        wanted = request.query_params.get("user")
        default = next((u.id for u in ws.users.values() if not u.is_bot), None)
        user = person(ws, wanted or default)
        with ws.lock:
            channels = [c for c in ws.channels.values() if can_see(c, user.id) and not c.is_archived]
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
            "commands": list(self.interactions.commands),
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
            "panes": {c.id: pane_of(ws, c.id) for c in channels if c.is_im},
            "ephemerals": ephemerals,
            "view": self.modals.shown(user.id),
            "canvases": readable_canvases(ws, user.id),
        }

    async def message(self, request: Request) -> dict[str, Any]:
        data = await json_body(request)
        user = person(self.workspace, data.get("user"))
        channel = channel_for(self.workspace, data.get("channel"), user)
        text = str(data.get("text") or "").strip()
        attached = attached_files(data.get("files"))
        if not text and not attached:
            raise BadRequest("no_text")
        thread_ts = data.get("thread_ts") or None
        if thread_ts and self.workspace.message(channel.id, thread_ts) is None:
            raise BadRequest("thread_not_found")
        if user.id not in channel.members:
            self.workspace.join(channel.id, user.id)
        text, mentioned = self._with_mentions(escape(text))
        shared = [files.share_person_file(self.workspace, user.id, name, content) for name, content in attached]
        shared = [files.with_base(file, str(request.base_url)) for file in shared]
        posted = self.workspace.post(channel.id, user=user.id, text=text, thread_ts=thread_ts, files=shared or None)
        files.mark_shared(self.workspace, shared, channel.id, posted["ts"], thread_ts)
        delivered = await self._deliver_message(channel, user, posted, mentioned)
        return {"ok": True, "ts": posted["ts"], **delivered}

    def _with_mentions(self, text: str) -> tuple[str, bool]:
        """``@researchbot`` (its name, any case) as Slack writes a mention: ``<@U0BOT>``."""
        bot = self.workspace.users[self.workspace.bot_user_id]
        pattern = re.compile(rf"(?<![\w@])@(?:{re.escape(bot.name)}|{re.escape(bot.real_name)})\b", re.IGNORECASE)
        mentioned = pattern.sub(f"<@{bot.id}>", text)
        return mentioned, mentioned != text

    async def _deliver_message(
        self, channel: Channel, user: User, posted: dict[str, Any], mentioned: bool
    ) -> dict[str, Any]:
        """The event Slack sends the bot for a person's message, if any; what became of its delivery."""
        ws = self.workspace
        if channel.is_im and ws.bot_user_id in channel.members:
            event = payloads.im_message(ws, channel=channel, message=posted)
        elif mentioned and ws.bot_user_id in channel.members:
            event = payloads.app_mention(ws, channel=channel, message=posted)
        elif mentioned:  # Slack offers to invite the app; no event until it is in the channel
            self.workspace.post_ephemeral(
                channel.id,
                user.id,
                text=f"ResearchBot is not in #{escape(channel.name)}, so it did not see your mention. "
                "Invite it with `/invite @researchbot`, or ask in a channel it is in.",
                username="Slackbot",
            )
            return {"delivered": False}
        elif ws.bot_user_id in channel.members:  # message.channels / message.groups: all it sees
            event = payloads.channel_message(ws, channel=channel, message=posted)
        else:
            return {}
        reply = await self.events.deliver(event)
        return {"delivered": reply.ok, **({"error": reply.error, "detail": reply.detail} if reply.error else {})}

    async def open_dm(self, request: Request) -> dict[str, Any]:
        """The bot's Messages tab opened: its DM (made on first use) and app_home_opened for the pane."""
        data = await json_body(request)
        user = person(self.workspace, data.get("user"))
        ws = self.workspace
        with ws.lock:
            dm = next(
                (c for c in ws.channels.values() if c.is_im and set(c.members) == {user.id, ws.bot_user_id}), None
            )
            if dm is None:
                dm = ws.add_channel(f"dm-{user.name}", im=True, members=[user.id], bot_member=True)
        reply = await self.events.deliver(payloads.app_home_opened(ws, user=user, channel=dm))
        return {"ok": True, "channel": dm.id, "delivered": reply.ok}

    async def dismiss(self, request: Request) -> dict[str, Any]:
        data = await json_body(request)
        user = person(self.workspace, data.get("user"))
        ws = self.workspace
        with ws.lock:
            gone = [e for e in ws.ephemerals if e["ts"] == data.get("ts") and e["user"] == user.id]
            ws.ephemerals[:] = [e for e in ws.ephemerals if e not in gone]
        for message in gone:
            self.hub.publish({"type": "ephemeral_deleted", "message": message})
        return {"ok": bool(gone)}
