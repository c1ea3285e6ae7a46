"""Request signing: our signer matches Slack's worked example, and the running bot turns away
forged and replayed requests (HTTP 401) without starting anything."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from slack_sdk.signature import SignatureVerifier
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from bot.app import build_asgi_app
from bot.server import HttpServer
from core.settings import Settings
from sandbox import Channel, SlackApiServer
from sandbox.payloads import command_body, command_form, interaction_body
from sandbox.signing import signature, signed_headers
from tests.fakes.slack_sender import SlackSender
from tests.support.slack import ASKER

REPO = Path(__file__).resolve().parents[2]
VECTOR = json.loads((REPO / "tests" / "data" / "slack" / "signing-vector.json").read_text(encoding="utf-8"))
SECRET = "signing-test-secret"


class PinnedClock:
    def __init__(self, now: float) -> None:
        self._now = now

    def now(self) -> float:
        return self._now


def test_the_signer_reproduces_slacks_worked_example() -> None:
    secret, timestamp, body = VECTOR["signing_secret"], VECTOR["timestamp"], VECTOR["body"]
    assert signature(secret, timestamp, body) == VECTOR["expected_signature"]
    assert signature(secret, timestamp, body.encode()) == VECTOR["expected_signature"]
    headers = signed_headers(secret, body, timestamp=int(timestamp))
    assert headers["X-Slack-Signature"] == VECTOR["expected_signature"]
    assert headers["X-Slack-Request-Timestamp"] == timestamp
    # slack_sdk's verifier (what Bolt uses) agrees, and enforces the 5-minute replay window.
    pinned = SignatureVerifier(secret, clock=PinnedClock(float(timestamp)))
    assert pinned.is_valid(body, timestamp, headers["X-Slack-Signature"])
    assert not SignatureVerifier(secret).is_valid(body, timestamp, headers["X-Slack-Signature"])
    assert signature("another-secret", timestamp, body) != VECTOR["expected_signature"]


@pytest.fixture
async def bot(slack: SlackApiServer, env: WorkflowEnvironment) -> AsyncIterator[SlackSender]:
    settings = Settings(
        _env_file=None,
        research_task_queue=f"signing-{uuid.uuid4().hex[:8]}",
        slack_bot_token=slack.workspace.bot_token,
        slack_api_url=slack.base_url,
        slack_signing_secret=SECRET,
    )
    server = HttpServer(build_asgi_app(settings, env.client), "127.0.0.1", 0)
    await server.start()
    sender = SlackSender(server.url, SECRET)
    try:
        yield sender
    finally:
        await sender.aclose()
        await server.stop()


def command(slack: SlackApiServer, channel_id: str, text: str = "What is durable execution?") -> str:
    ws = slack.workspace
    fields = command_form(
        ws,
        channel=Channel(channel_id, "research"),
        user=ws.users[ASKER],
        text=text,
        response_url=slack.response_url(channel_id, ASKER),
    )
    return command_body(fields)


async def runs_from(client: Client, slack: SlackApiServer, channel_id: str) -> list[str]:
    query = f"WorkflowId STARTS_WITH 'research-{slack.workspace.team_id}-{ASKER}-{channel_id}-'"
    return [execution.id async for execution in client.list_workflows(query)]


async def first_runs_from(client: Client, slack: SlackApiServer, channel_id: str) -> list[str]:
    """The runs from a channel, once there are any (a wait, not a timing assertion)."""
    for _ in range(300):
        if found := await runs_from(client, slack, channel_id):
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"no run started from {channel_id}")


async def test_forged_and_replayed_requests_get_401_and_start_nothing(
    bot: SlackSender, slack: SlackApiServer, env: WorkflowEnvironment
) -> None:
    channels = {
        name: f"C{name.upper()}{uuid.uuid4().hex[:6].upper()}" for name in ("forged", "stale", "unsigned", "signed")
    }
    forged_body = command(slack, channels["forged"])
    forged = signed_headers("not-the-signing-secret", forged_body)
    tampered_body = command(slack, channels["forged"], text="Something else")
    stale_body = command(slack, channels["stale"])
    six_minutes_ago = int(time.time()) - 360

    answers = {
        "forged": await bot.post(forged_body, forged),
        "tampered": await bot.post(
            tampered_body, signed_headers(SECRET, forged_body)
        ),  # a real signature, for another body
        "stale": await bot.post(stale_body, signed_headers(SECRET, stale_body, timestamp=six_minutes_ago)),
        "unsigned": await bot.post(
            command(slack, channels["unsigned"]), {"Content-Type": "application/x-www-form-urlencoded"}
        ),
        "forged click": await bot.post(interaction_body({"type": "block_actions"}), forged),
    }
    assert {name: answer.status_code for name, answer in answers.items()} == dict.fromkeys(answers, 401)

    # The same request, signed now with the right secret, is taken: the refusals above were the signature's doing.
    signed = await bot.post(command(slack, channels["signed"]))
    assert signed.status_code == 200 and "Researching" in signed.json()["text"]
    [workflow_id] = await first_runs_from(env.client, slack, channels["signed"])
    await env.client.get_workflow_handle(workflow_id).terminate("test over")
    # Runs start right after their ack, so these are checked once the signed one has started.
    for name in ("forged", "stale", "unsigned"):
        assert await runs_from(env.client, slack, channels[name]) == [], f"a {name} request started a run"
