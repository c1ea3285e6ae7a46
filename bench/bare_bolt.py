"""The two baselines of bench/acks.py: a bare Bolt app answering `/research`, and nothing else.

    python -m bench.bare_bolt ack|start PORT

``ack``: acks "ok" and starts nothing (the fastest a Bolt app can answer).
``start``: the naive durable design: it starts the ResearchWorkflow on RESEARCH_TASK_QUEUE, and
acks only once Temporal has answered the start. The request is built as the bot builds it
(bot/runs.py), with the project's pydantic data converter, so a worker really runs these runs.

It reads SLACK_SIGNING_SECRET, SLACK_BOT_TOKEN and SLACK_API_URL as the bot does, and for ``start``
TEMPORAL_ADDRESS and RESEARCH_TASK_QUEUE. It serves POST /slack/events and GET /healthz on
127.0.0.1:PORT (uvicorn, through slack_bolt's Starlette adapter), with no front door and no
PendingAcks: only what Bolt does.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import sys
from typing import Any

import uvicorn
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from temporalio.client import Client

from bot.runs import build_request
from bot.server import EVENTS_PATH, HEALTH_PATH
from core import temporal
from core.settings import Settings
from workflows.models import SlackContext

__all__ = ["MODES", "STARTED_PREFIX", "build_bare_app", "main", "workflow_id"]

MODES = ("ack", "start")
# Workflow ids of the runs the `start` baseline starts: ``<prefix><digest of team + trigger_id>``.
STARTED_PREFIX = "bench-bare-start-"


def workflow_id(command: dict[str, Any]) -> str:
    """One id per command, as the bot makes its own (a command delivered twice names one run)."""
    trigger = f"{command.get('team_id')}:{command.get('trigger_id')}"
    return STARTED_PREFIX + hashlib.sha256(trigger.encode()).hexdigest()[:20]


def build_bare_app(mode: str, settings: Settings, client: Client | None) -> AsyncApp:
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else ""
    web = AsyncWebClient(token=token, base_url=settings.slack_api_url)
    app = AsyncApp(client=web, signing_secret=secret, process_before_response=False)

    async def ack_only(ack: AsyncAck) -> None:
        await ack("ok")

    async def start_then_ack(ack: AsyncAck, command: dict[str, Any]) -> None:
        assert client is not None
        user = command.get("user_id", "")
        slack = SlackContext(
            channel_id=command["channel_id"],
            user_id=user,
            team_id=command.get("team_id"),
        )
        request = build_request(settings, (command.get("text") or "").strip(), requested_by=user, slack=slack)
        await client.start_workflow(
            "ResearchWorkflow", request, id=workflow_id(command), task_queue=settings.research_task_queue
        )
        await ack("🔎 Researching…")

    app.command("/research")(ack_only if mode == "ack" else start_then_ack)
    return app


def asgi(bolt: AsyncApp) -> Starlette:
    handler = AsyncSlackRequestHandler(bolt)

    async def events(request: Request) -> Response:
        return await handler.handle(request)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"ok": True})

    return Starlette(routes=[Route(EVENTS_PATH, events, methods=["POST"]), Route(HEALTH_PATH, healthz)])


async def serve(mode: str, port: int) -> None:
    settings = Settings()
    client = await temporal.connect() if mode == "start" else None
    config = uvicorn.Config(
        asgi(build_bare_app(mode, settings, client)),
        host="127.0.0.1",
        port=port,
        log_config=None,
        access_log=False,
        lifespan="off",
    )
    await uvicorn.Server(config).serve()


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    mode = args[0] if args else os.environ.get("BARE_BOLT_MODE", "")
    port = int(args[1] if len(args) > 1 else os.environ.get("PORT", "3000"))
    if mode not in MODES:
        raise SystemExit(f"usage: python -m bench.bare_bolt {'|'.join(MODES)} PORT")
    asyncio.run(serve(mode, port))


if __name__ == "__main__":
    main()
