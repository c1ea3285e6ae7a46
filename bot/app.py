"""The Slack app: a Bolt AsyncApp with ResearchBot's listeners, and what serves it."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import structlog
from pydantic import ValidationError
from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from starlette.types import ASGIApp
from temporalio.client import Client

from bot.listeners import register_listeners
from bot.ownership import AppIdentity
from bot.people import People
from bot.server import check_settings, create_asgi_app, serve
from bot.traced_app import TracedApp
from bot.under_way import UnderWay
from core.response_urls import ResponseUrls
from core.run_threads import RunThreads
from core.settings import Settings
from core.workspace_tokens import WorkspaceTokens
from slack_ui.client import build_slack_client
from slack_ui.ids import MalformedId

__all__ = ["build_app", "build_asgi_app", "refuse_malformed", "run_bot"]

log = structlog.get_logger(__name__)

MAX_REASON = 200


def _demote_unhandled(record: logging.LogRecord) -> bool:
    """Bolt's "Unhandled request" warning prints the request and a page of suggested code; a request we
    do not listen for (an event we are not subscribed to, a forged shape) is worth a debug line at most."""
    if not str(record.msg).startswith("Unhandled request"):
        return True
    record.levelno, record.levelname = logging.DEBUG, "DEBUG"
    return logging.getLogger().isEnabledFor(logging.DEBUG)


logging.getLogger("slack_bolt.AsyncApp").addFilter(_demote_unhandled)


def build_app(settings: Settings, temporal_client: Client, under_way: UnderWay | None = None) -> AsyncApp:
    """Bolt over SLACK_API_URL with the bot token; requests verified with SLACK_SIGNING_SECRET.
    Listeners find the Temporal client, the settings and the bot's work under way (bot/under_way.py) as
    ``context["temporal"]``, ``context["settings"]`` and ``context["under_way"]``, and the tables they share
    with the worker as ``context["run_threads"]``, ``context["response_urls"]`` and
    ``context["workspace_tokens"]``, and who is a guest or external as ``context["people"]``. A payload that is
    signed but not well formed gets a 400 (:func:`refuse_malformed`); one for another app or workspace, a
    403 (bot/ownership.py).
    Bolt calls auth.test on the first request (not at start-up) and caches the answer."""
    check_settings(settings)
    secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else ""
    # Answer when the listener returns: otherwise Bolt polls each request's ack every 10 ms, CPU a burst of
    # commands can't spare. Listeners hand what follows their ack to bot/under_way.py.
    # TracedApp: each request is a span, the root of a run's trace when tracing is on (bot/traced_app.py).
    app = TracedApp(client=build_slack_client(settings), signing_secret=secret, process_before_response=True)
    under_way = under_way or UnderWay()
    threads = RunThreads.connect(settings.database_url)  # connects on first use
    response_urls = ResponseUrls(threads.engine)  # the same database: the worker's archive
    tokens = WorkspaceTokens(threads.engine)
    identity = AppIdentity()
    people = People(app.client, identity)  # who is a guest or external, asked of Slack once in a while

    async def provide(context: AsyncBoltContext, next: Callable[[], Awaitable[None]]) -> None:
        context["temporal"], context["settings"], context["under_way"] = temporal_client, settings, under_way
        context["run_threads"], context["response_urls"] = threads, response_urls
        context["workspace_tokens"], context["people"] = tokens, people
        await next()

    app.use(provide)
    app.use(identity.middleware)  # signed, but for this app and workspace?
    app.error(refuse_malformed)
    register_listeners(app)
    return app


async def refuse_malformed(
    error: Exception, request: AsyncBoltRequest, response: BoltResponse | None
) -> BoltResponse | None:
    """Bolt's error handler. A payload that is signed but not ours (a junk button value or modal
    metadata, a missing field) gets 400 and a short reason, logged at INFO without a traceback;
    anything else is a bug: logged with its traceback, and Bolt answers 500."""
    if not isinstance(error, MalformedId | ValidationError):
        log.error("bot.listener_failed", exc_info=error)
        return None
    reason = str(error) if isinstance(error, MalformedId) else f"invalid input: {error.errors()[0]['msg']}"
    log.info("bot.malformed_request", reason=reason, type=request.body.get("type") or request.body.get("command"))
    if response is None:  # the listener had already acked; there is no answer left to give
        return None
    return BoltResponse(status=400, body=reason[:MAX_REASON])


def build_asgi_app(settings: Settings, temporal_client: Client, under_way: UnderWay | None = None) -> ASGIApp:
    """The HTTP-mode app: POST /slack/events and GET /healthz."""
    return create_asgi_app(build_app(settings, temporal_client, under_way), settings)


async def run_bot(settings: Settings, temporal_client: Client) -> None:
    """Serve until SIGINT or SIGTERM (HTTP on $PORT, or Socket Mode with SLACK_APP_TOKEN), then let
    the work under way finish: starts whose askers were told "queued", answers after an ack."""
    under_way = UnderWay()
    await serve(build_app(settings, temporal_client, under_way), settings)
    await under_way.drain()
