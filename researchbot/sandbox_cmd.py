"""Runs the local Slack sandbox (page + Web API on one port) for `researchbot dev`.

The bot must use the same secrets and point its Web API client at the sandbox:
``SLACK_API_URL=http://127.0.0.1:<port>/api/``, and ``SLACK_BOT_TOKEN`` / ``SLACK_SIGNING_SECRET``
equal to what is passed here (``sandbox_settings`` gives the defaults the two share).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import structlog

from core.errors import ConfigError
from core.settings import Settings
from researchbot.devserver import port_is_open
from sandbox.demo_workspace import APPROVERS
from sandbox.server import DEFAULT_BOT_TOKEN, DEFAULT_PORT, DEFAULT_STATE_FILE, SandboxServer

__all__ = [
    "DEFAULT_PORT",
    "DEFAULT_SIGNING_SECRET",
    "DEFAULT_STATE_FILE",
    "build_sandbox",
    "run_sandbox",
    "sandbox_env",
]

log = structlog.get_logger("researchbot.sandbox")

DEFAULT_SIGNING_SECRET = "sandbox-signing-secret"


def sandbox_env(port: int = DEFAULT_PORT) -> dict[str, str]:
    """Settings for a bot that talks to the sandbox, as environment variables; an explicit
    setting (SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET, RESEARCH_APPROVERS) wins over these."""
    return {
        "SLACK_API_URL": f"http://127.0.0.1:{port}/api/",
        "SLACK_BOT_TOKEN": DEFAULT_BOT_TOKEN,
        "SLACK_SIGNING_SECRET": DEFAULT_SIGNING_SECRET,
        "RESEARCH_APPROVERS": ",".join(APPROVERS),
    }


def build_sandbox(settings: Settings, port: int, bot_url: str, state_file: str | Path) -> SandboxServer:
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else DEFAULT_BOT_TOKEN
    secret = (
        settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else DEFAULT_SIGNING_SECRET
    )
    return SandboxServer(bot_url=bot_url, signing_secret=secret, bot_token=token, state_file=state_file, port=port)


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
    sandbox = build_sandbox(settings, port, bot_url, state_file)
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
