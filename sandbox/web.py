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

import copy
import mimetypes
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp

from sandbox.bot_client import BotClient
from sandbox.canvases import readable_canvases
from sandbox.event_stream import EventStream
from sandbox.events import EventHub
from sandbox.interactions import Interactions
from sandbox.modals import Modals
from sandbox.page_guard import PageGuard
from sandbox.page_io import BadRequest, answer, escape, json_body, person
from sandbox.payloads import VERIFICATION_TOKEN
from sandbox.response_urls import ResponseUrls
from sandbox.state import Workspace
from sandbox.visibility import can_see, channel_for

__all__ = ["STATIC_DIR", "SandboxWeb"]

STATIC_DIR = Path(__file__).resolve().parent / "static"
mimetypes.add_type("text/javascript", ".js")  # ES modules load only as JavaScript; some systems lack .js


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
    ) -> None:
        self.workspace, self.bot = workspace, bot
        self.hub = hub or EventHub(workspace)
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
            "ephemerals": ephemerals,
            "view": self.modals.shown(user.id),
            "canvases": readable_canvases(ws, user.id),
        }

    async def message(self, request: Request) -> dict[str, Any]:
        data = await json_body(request)
        user = person(self.workspace, data.get("user"))
        channel = channel_for(self.workspace, data.get("channel"), user)
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
