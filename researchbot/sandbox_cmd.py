"""Runs the local Slack sandbox (page + Web API on one port) for `researchbot dev`.

The bot must use the same secrets and point its Web API client at the sandbox:
``SLACK_API_URL=http://127.0.0.1:<port>/api/``, and ``SLACK_BOT_TOKEN`` / ``SLACK_SIGNING_SECRET``
equal to the sandbox's. ``sandbox_credentials`` gives the operator's, or random ones made for this
start (never a public default: a page in the browser could post as the bot with one).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import structlog
from pydantic import SecretStr

from core.errors import ConfigError
from core.settings import Settings
from researchbot.devserver import port_is_open
from sandbox.credentials import Credentials
from sandbox.demo_workspace import APPROVERS
from sandbox.server import DEFAULT_PORT, DEFAULT_STATE_FILE, SandboxServer

__all__ = [
    "DEFAULT_PORT",
    "DEFAULT_STATE_FILE",
    "build_sandbox",
    "run_sandbox",
    "sandbox_credentials",
    "sandbox_env",
]

log = structlog.get_logger("researchbot.sandbox")


def _set(value: SecretStr | None) -> str:
    return value.get_secret_value().strip() if value else ""


def sandbox_credentials(settings: Settings) -> Credentials:
    """The operator's SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET and SLACK_APP_TOKEN where set, else random
    ones; call it once per start and hand the result to both the sandbox and the bot."""
    fresh = Credentials.fresh()
    return Credentials(
        bot_token=_set(settings.slack_bot_token) or fresh.bot_token,
        signing_secret=_set(settings.slack_signing_secret) or fresh.signing_secret,
        app_token=_set(settings.slack_app_token) or fresh.app_token,
    )


def sandbox_env(credentials: Credentials, port: int = DEFAULT_PORT) -> dict[str, str]:
    """Settings for a bot that talks to the sandbox, as environment variables (RESEARCH_APPROVERS: an
    explicit setting wins)."""
    return {
        "SLACK_API_URL": f"http://127.0.0.1:{port}/api/",
        "SLACK_BOT_TOKEN": credentials.bot_token,
        "SLACK_SIGNING_SECRET": credentials.signing_secret,
        "RESEARCH_APPROVERS": ",".join(APPROVERS),
    }


def build_sandbox(credentials: Credentials, port: int, bot_url: str, state_file: str | Path) -> SandboxServer:
    return SandboxServer(
        bot_url=bot_url,
        signing_secret=credentials.signing_secret,
        bot_token=credentials.bot_token,
        app_token=credentials.app_token,
        state_file=state_file,
        port=port,
    )


async def run_sandbox(
    settings: Settings,
    port: int = DEFAULT_PORT,
    bot_url: str | None = None,
    state_file: str | Path = DEFAULT_STATE_FILE,
) -> None:
    """Serve the sandbox until cancelled or interrupted. ``bot_url`` defaults to the bot's
    request URL on ``settings.port``. Raises ConfigError if ``port`` is taken."""
    bot_url = bot_url or f"http://127.0.0.1:{settings.port}/slack/events"
    if port_is_open(port):
        raise ConfigError(f"port {port} is taken: stop what runs there, or give the sandbox another port")
    if not (_set(settings.slack_bot_token) and _set(settings.slack_signing_secret)):
        log.warning(
            "sandbox.random_secrets",
            hint="SLACK_BOT_TOKEN or SLACK_SIGNING_SECRET is not set, so this start made random ones; "
            "a bot run apart needs both set, to the same values, for it and for the sandbox",
        )
    sandbox = build_sandbox(sandbox_credentials(settings), port, bot_url, state_file)
    serving = asyncio.create_task(sandbox.serve(), name="slack-sandbox")
    while not sandbox.started and not serving.done():
        await asyncio.sleep(0.05)
    if not serving.done():
        log.info(
            "sandbox.started",
            page=sandbox.page_url,
            slack_api_url=sandbox.base_url,
            bot_url=bot_url,
            state_file=str(state_file),
        )
    await serving
