"""The Bolt app as build_app makes it, fed Bolt's own request objects (``AsyncBoltRequest``), as Bolt's
tests do: signed like Slack signs, answered by ``app.async_dispatch``. Slack is the sandbox's Web API
(Bolt calls auth.test on the first request; respond() posts to its response_urls); Temporal is
:class:`FakeTemporal`, which records what reached it and can be made slow or unreachable."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from temporalio.service import RPCError, RPCStatusCode

from bot.app import build_app
from core.settings import Settings
from sandbox import Channel, SlackApiServer, payloads
from sandbox.signing import signed_headers
from tests.support.slack import APPROVER, ASKER, STRANGER, sandbox_slack
from workflows.models import DecisionInput, DecisionReceipt

SECRET = "listener-signing-secret"


@dataclass
class FakeTemporal:
    """The calls the bot makes on a Temporal client. ``start`` is what a start does (None: it succeeds);
    ``update_gate``, when set, holds every update until it is set; ``list_gate``, every listing."""

    starts: list[str] = field(default_factory=list)
    requests: dict[str, Any] = field(default_factory=dict)  # workflow id -> the request it was started with
    written: set[str] = field(default_factory=set)  # runs Temporal has, whatever the caller heard
    updates: list[tuple[str, DecisionInput]] = field(default_factory=list)
    signals: list[tuple[str, DecisionInput]] = field(default_factory=list)
    start: Callable[[], Any] | None = None
    update_gate: asyncio.Event | None = None
    list_gate: asyncio.Event | None = None

    async def start_workflow(self, run: Any, request: Any, *, id: str, **options: Any) -> Any:
        if self.start is not None:
            await self.start()
        self.starts.append(id)
        self.requests[id] = request
        self.written.add(id)
        return object()

    def get_workflow_handle_for(self, run: Any, workflow_id: str) -> FakeHandle:
        return FakeHandle(self, workflow_id)

    def get_workflow_handle(self, workflow_id: str) -> FakeHandle:
        return FakeHandle(self, workflow_id)

    def list_workflows(self, query: str, limit: int | None = None) -> AsyncIterator[Any]:
        async def none() -> AsyncIterator[Any]:
            if self.list_gate is not None:
                await self.list_gate.wait()
            for execution in ():
                yield execution

        return none()

    async def count_workflows(self, query: str, **options: Any) -> Any:
        """Runs started whose id has the query's prefix (every one is still running), but the one it leaves out."""
        prefix = re.search(r"STARTS_WITH '([^']*)'", query)
        left_out = re.search(r"WorkflowId != '([^']*)'", query)
        found = [i for i in self.starts if prefix and i.startswith(prefix[1]) and not (left_out and i == left_out[1])]
        return SimpleNamespace(count=len(found))


@dataclass
class FakeHandle:
    temporal: FakeTemporal
    id: str

    async def execute_update(self, update: Any, decision: DecisionInput, **options: Any) -> DecisionReceipt:
        if self.temporal.update_gate is not None:
            await self.temporal.update_gate.wait()
        self.temporal.updates.append((self.id, decision))
        return DecisionReceipt(accepted=True, message="Decision recorded", draft_round=decision.draft_round)

    async def describe(self, **options: Any) -> object:
        if self.id not in self.temporal.written:
            raise RPCError("workflow not found", RPCStatusCode.NOT_FOUND, b"")
        return object()

    async def signal(self, signal: Any, decision: DecisionInput) -> None:
        self.temporal.signals.append((self.id, decision))


@pytest.fixture(scope="module")
def slack() -> Iterator[SlackApiServer]:
    with sandbox_slack(team_id="TLISTEN") as server:
        yield server


@pytest.fixture
def channel(slack: SlackApiServer) -> Channel:
    return slack.workspace.add_channel(f"listen-{uuid.uuid4().hex[:6]}", members=[ASKER, APPROVER, STRANGER])


@pytest.fixture
def temporal() -> FakeTemporal:
    return FakeTemporal()


@pytest.fixture
def app(slack: SlackApiServer, temporal: FakeTemporal) -> AsyncApp:
    settings = Settings(
        _env_file=None,
        slack_bot_token=slack.workspace.bot_token,
        slack_api_url=slack.base_url,
        slack_signing_secret=SECRET,
        research_approvers=[APPROVER],
    )
    return build_app(settings, temporal)  # type: ignore[arg-type]


# ------------------------------------------------------------------ what Slack sends, as Bolt receives it


def bolt_request(body: str, headers: dict[str, str] | None = None) -> AsyncBoltRequest:
    return AsyncBoltRequest(body=body, headers=headers if headers is not None else signed_headers(SECRET, body))


def command(slack: SlackApiServer, channel: Channel, text: str, user: str = ASKER) -> dict[str, str]:
    ws = slack.workspace
    return payloads.command_form(
        ws, channel=channel, user=ws.users[user], text=text, response_url=slack.response_url(channel.id, user)
    )


def form(fields: dict[str, str]) -> str:
    return payloads.command_body(fields)


def run_id(slack: SlackApiServer, channel: Channel, asker: str = ASKER) -> str:
    return f"research-{slack.workspace.team_id}-{asker}-{channel.id}-{'0' * 20}"


def click(slack: SlackApiServer, channel: Channel, action_id: str, user: str, value: str) -> dict[str, Any]:
    ws = slack.workspace
    draft = {"text": "Draft 1 ready for review: Why?", "ts": ws.new_ts(), "blocks": []}
    return payloads.block_actions(
        ws,
        channel=channel,
        user=ws.users[user],
        source=draft,
        element={"type": "button", "action_id": action_id, "value": value},
        block_id="decision-1",
        response_url=slack.response_url(channel.id, user),
    )


def submission(slack: SlackApiServer, user: str, metadata: str, feedback: str | None = None) -> dict[str, Any]:
    ws = slack.workspace
    view = {
        "id": f"V{uuid.uuid4().hex[:8].upper()}",
        "type": "modal",
        "callback_id": "decision_modal",
        "private_metadata": metadata,
        "state": {"values": payloads.input_values({"feedback": {"feedback": feedback}})},
    }
    return payloads.view_submission(ws, user=ws.users[user], view=view)


def interaction(payload: dict[str, Any]) -> str:
    return payloads.interaction_body(payload)


# ------------------------------------------------------------------ what came back, and what Slack shows


def reply(response: BoltResponse) -> dict[str, Any]:
    return json.loads(response.body) if response.body else {}


def ephemerals(slack: SlackApiServer, channel: Channel, user: str) -> list[str]:
    with slack.workspace.lock:
        found = [e for e in slack.workspace.ephemerals if e["channel"] == channel.id and e["user"] == user]
        return [str(e.get("text", "")) for e in found]
