"""The Slack Web API client, built one way for the worker's posts and the bot's answers."""

from __future__ import annotations

from slack_sdk.web.async_client import AsyncWebClient

from core.errors import ConfigError
from core.settings import Settings

__all__ = ["build_slack_client"]


def build_slack_client(settings: Settings) -> AsyncWebClient:
    if settings.slack_bot_token is None:
        raise ConfigError("SLACK_BOT_TOKEN is not set: copy the app's Bot User OAuth Token (xoxb-...)")
    base_url = settings.slack_api_url.rstrip("/") + "/"
    # No retry handlers: slack_sdk's default one re-sends a request whose connection broke,
    # which can post a message twice. Temporal retries instead, and looks before it posts.
    return AsyncWebClient(
        token=settings.slack_bot_token.get_secret_value(), base_url=base_url, retry_handlers=[], timeout=15
    )
