"""The Slack bot in Socket Mode (SLACK_APP_TOKEN set): it opens a WebSocket with apps.connections.open
and takes commands and clicks as envelopes, acking each one, instead of signed HTTP requests.

The sandbox serves Socket Mode as Slack does (sandbox/socket_mode.py); the bot is the real one
(`bot.server.serve_socket_mode`), the worker a real process, Temporal the session's dev server.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.app import build_app
from bot.server import serve_socket_mode
from core.settings import Settings
from sandbox import Channel, SlackApiServer, payloads
from sandbox.socket_mode import SocketModeLink
from tests.e2e.slack_stack import (
    ASKER,
    STRANGER,
    Stack,
    ask,
    click,
    ephemerals,
    eventually,
    new_ephemeral,
    open_modal,
    report,
    runs_asked_in,
    started_run,
    submit,
)
from workflows.models import Outcome


class SocketModeSender:
    """What Slack sends over Socket Mode, with the answer shaped like an HTTP one (the ack's payload
    as the JSON body), so the end-to-end helpers work unchanged."""

    def __init__(self, link: SocketModeLink) -> None:
        self.link = link

    async def command(self, **fields: str) -> httpx.Response:
        return self._as_response(await self.link.send("slash_commands", dict(fields)))

    async def interaction(self, payload: dict[str, Any]) -> httpx.Response:
        return self._as_response(await self.link.send("interactive", payload))

    @staticmethod
    def _as_response(payload: dict[str, Any] | None) -> httpx.Response:
        return httpx.Response(200, json=payload) if payload is not None else httpx.Response(200)

    async def aclose(self) -> None:
        pass


@pytest.fixture
async def socket_stack(stack: Stack, slack: SlackApiServer) -> AsyncIterator[Stack]:
    """The module's worker and Temporal client, with a Socket Mode bot in place of the HTTP one."""
    settings = Settings(
        _env_file=None,
        research_task_queue=stack.queue,
        slack_bot_token=slack.workspace.bot_token,
        slack_app_token=slack.workspace.app_token,
        slack_api_url=slack.base_url,
    )
    stop = asyncio.Event()
    bolt = build_app(settings, stack.client)
    serving = asyncio.create_task(serve_socket_mode(bolt, slack.workspace.app_token, stop))
    await eventually(lambda: slack.socket_mode.connected or serving.done(), "the bot's Socket Mode connection")
    assert not serving.done(), serving.exception()
    assert slack.calls_to("apps.connections.open"), "the bot asked Slack for its WebSocket URL"
    try:
        yield dataclasses.replace(stack, sender=SocketModeSender(slack.socket_mode))  # type: ignore[arg-type]
    finally:
        stop.set()
        await serving
    await eventually(lambda: not slack.socket_mode.connected, "the bot closing its connection")


async def test_in_socket_mode_a_question_becomes_a_reviewed_report(socket_stack: Stack, channel: Channel) -> None:
    usage = await ask(socket_stack, channel, "")
    assert "Usage:" in usage.json()["text"]

    message, workflow_id = await started_run(socket_stack, channel)
    assert await runs_asked_in(socket_stack, channel) == [workflow_id]

    seen = len(ephemerals(socket_stack, channel, STRANGER))
    await click(socket_stack, channel, message, "approve", STRANGER)
    assert "can decide on this draft" in await new_ephemeral(socket_stack, channel, STRANGER, seen)

    view = await open_modal(socket_stack, channel, message, "approve", ASKER)
    submitted = await submit(socket_stack, view, ASKER, "Say which retry policy is the default.")
    assert "response_action" not in submitted.text, submitted.text  # acked without modal errors
    await eventually(lambda: report(socket_stack, channel), "the final report in the thread", socket_stack)
    result = await socket_stack.handle(workflow_id).result()
    assert result.outcome is Outcome.APPROVED and result.decisions[-1].feedback


async def test_in_socket_mode_a_mention_and_its_retry_start_one_run_under_the_mention(
    socket_stack: Stack, channel: Channel
) -> None:
    ws = socket_stack.workspace
    mention = ws.post(channel.id, user=ASKER, text="<@U0BOT> What is a task queue?")
    event = payloads.event_callback(ws, payloads.app_mention(ws, channel=channel, message=mention))
    link = socket_stack.slack.socket_mode  # type: ignore[attr-defined]
    assert await link.send("events_api", event) is None  # a bare ack
    assert await link.send("events_api", {**event, "retry_attempt": 1, "retry_reason": "timeout"}) is None

    def first_post() -> list[dict[str, Any]]:
        with ws.lock:
            return [
                m for m in ws.messages[channel.id] if m.get("thread_ts") == mention["ts"] and m["ts"] != mention["ts"]
            ]

    await eventually(first_post, "the run's first post under the mention", socket_stack)
    [workflow_id] = await runs_asked_in(socket_stack, channel)
    await socket_stack.handle(workflow_id).terminate("test over")


async def test_apps_connections_open_takes_only_an_app_level_token(slack: SlackApiServer) -> None:
    with_bot_token = AsyncWebClient(token=slack.workspace.bot_token, base_url=slack.base_url)
    with pytest.raises(SlackApiError) as refused:
        await with_bot_token.apps_connections_open(app_token=slack.workspace.bot_token)
    assert refused.value.response["error"] == "not_allowed_token_type"
    with_app_token = AsyncWebClient(token=slack.workspace.app_token, base_url=slack.base_url)
    with pytest.raises(SlackApiError) as refused:
        await with_app_token.chat_postMessage(channel="C1", text="hi")
    assert refused.value.response["error"] == "not_allowed_token_type"
    opened = await with_app_token.apps_connections_open(app_token=slack.workspace.app_token)
    assert opened["url"].startswith("ws://127.0.0.1:")
