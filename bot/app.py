"""The Slack app: a Bolt AsyncApp with ResearchBot's listeners, and what serves it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from starlette.types import ASGIApp
from temporalio.client import Client

from bot.acks import PendingAcks
from bot.listeners import register_listeners
from bot.server import check_settings, create_asgi_app, serve
from core.settings import Settings
from slack_ui.client import build_slack_client

__all__ = ["build_app", "build_asgi_app", "run_bot"]


def build_app(settings: Settings, temporal_client: Client, acks: PendingAcks) -> AsyncApp:
    """Bolt over SLACK_API_URL with the bot token; requests verified with SLACK_SIGNING_SECRET.
    Listeners find the Temporal client, the settings and the pending acks as ``context["temporal"]``,
    ``context["settings"]`` and ``context["acks"]``.
    Bolt calls auth.test on the first request (not at start-up) and caches the answer."""
    check_settings(settings)
    secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else ""
    app = AsyncApp(client=build_slack_client(settings), signing_secret=secret, process_before_response=False)

    async def provide(context: AsyncBoltContext, next: Callable[[], Awaitable[None]]) -> None:
        context["temporal"], context["settings"], context["acks"] = temporal_client, settings, acks
        await next()

    app.use(provide)
    register_listeners(app)
    return app


def build_asgi_app(settings: Settings, temporal_client: Client, acks: PendingAcks | None = None) -> ASGIApp:
    """The HTTP-mode app: POST /slack/events and GET /healthz. Whoever stops it drains ``acks``."""
    acks = acks or PendingAcks()
    return create_asgi_app(build_app(settings, temporal_client, acks), acks, settings)


async def run_bot(settings: Settings, temporal_client: Client) -> None:
    """Serve until SIGINT or SIGTERM (HTTP on $PORT, or Socket Mode with SLACK_APP_TOKEN), then let
    the runs already acked start."""
    acks = PendingAcks()
    await serve(build_app(settings, temporal_client, acks), acks, settings)
    await acks.drain()
