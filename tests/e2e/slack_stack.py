"""The Slack bot's end-to-end harness: the sandbox Slack, a real `researchbot worker` process, the
bot served by uvicorn in this process, and helpers that send what Slack sends and read what it shows.

Its fixtures (``slack``, ``stack``, ``channel``) are in tests/e2e/conftest.py; the e2e tests and
bench/slack.py, bench/scale.py import the helpers.
"""

from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from bot.app import build_asgi_app
from bot.server import HttpServer
from core import temporal
from core.errors import ConfigError
from core.settings import Settings
from sandbox import Channel, SlackApiServer, Workspace, payloads
from tests.fakes.slack_sender import SlackSender
from tests.support.slack import APPROVER, ASKER, STRANGER  # noqa: F401  (the e2e tests import them from here)
from tests.support.versions import promote_queue, versioned_env
from tests.support.waiting import eventually
from tests.workflows.helpers import wait_for_stage
from workflows.models import ResearchResult, RunStatus, Stage
from workflows.research import ResearchWorkflow

REPO = Path(__file__).resolve().parents[2]
SECRET = "e2e-signing-secret"
QUESTION = "How does Temporal retry activities & what are heartbeats?"


# ------------------------------------------------------------------ the pieces: Slack, a worker process, the bot


@dataclass
class Stack:
    """The bot (in this process) and a worker (a child process) on their own task queue."""

    slack: SlackApiServer
    env: WorkflowEnvironment
    queue: str
    data: Path
    client: Client
    bot: HttpServer | None = None
    sender: SlackSender | None = None
    worker: subprocess.Popen[bytes] | None = None
    worker_settings: dict[str, str] = field(default_factory=dict)  # on top of worker_env's

    @property
    def workspace(self) -> Workspace:
        return self.slack.workspace

    @property
    def http(self) -> SlackSender:
        assert self.sender is not None, "the bot is not running"
        return self.sender

    @property
    def settings(self) -> Settings:
        settings = bot_settings(self.slack, self.queue, self.data)
        if url := self.worker_settings.get("DATABASE_URL"):  # the bot reads the workers' archive, as deployed
            settings = settings.model_copy(update={"database_url": url})
        return settings

    async def start_bot(self, port: int = 0) -> None:
        self.bot = HttpServer(build_asgi_app(self.settings, self.client), "127.0.0.1", port)
        await self.bot.start()
        self.sender = SlackSender(self.bot.url, SECRET)

    async def stop_bot(self) -> None:
        if self.sender is not None:
            await self.sender.aclose()
        if self.bot is not None:
            await self.bot.stop()
        self.bot = self.sender = None

    def start_worker(self) -> None:
        env = {**worker_env(self.slack, self.env, self.queue, self.data), **self.worker_settings}
        with (self.data / "worker.log").open("ab") as log:
            self.worker = subprocess.Popen(
                [sys.executable, "-m", "researchbot", "worker"],
                env=env,
                cwd=REPO,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    async def promote_worker(self) -> None:
        """Make the worker's version current, as an operator does after a deploy: before any run starts."""
        try:
            await promote_queue(self.client, self.queue)
        except ConfigError as error:
            raise AssertionError(f"{error}\n--- worker log ---\n{self.worker_log()}") from error

    def stop_worker(self) -> None:
        if self.worker is None:
            return
        self.worker.send_signal(signal.SIGTERM)
        try:
            assert self.worker.wait(timeout=60) == 0, "SIGTERM should drain the worker and exit cleanly"
        finally:
            self.worker.kill()
            self.worker = None

    def worker_log(self) -> str:
        log = self.data / "worker.log"
        return log.read_text(errors="replace")[-3000:] if log.exists() else "(no worker log)"

    def handle(self, workflow_id: str) -> WorkflowHandle[ResearchWorkflow, ResearchResult]:
        return self.client.get_workflow_handle_for(ResearchWorkflow.run, workflow_id)


def bot_settings(slack: SlackApiServer, queue: str, data: Path) -> Settings:
    return Settings(
        _env_file=None,
        # The worker's archive (worker_env): the bot finds a run's thread in it without reading Slack.
        database_url=f"sqlite:///{data}/archive.db",
        research_task_queue=queue,
        slack_bot_token=slack.workspace.bot_token,
        slack_api_url=slack.base_url,
        slack_signing_secret=SECRET,
        research_approvers=[APPROVER],
        # The suite's few askers start hundreds of runs on one Temporal: no caps (tests/bot/test_caps.py).
        research_max_runs_in_flight=0,
        research_max_runs_per_hour=0,
    )


def worker_env(slack: SlackApiServer, env: WorkflowEnvironment, queue: str, data: Path) -> dict[str, str]:
    """A worker as an operator runs it, offline: no LLM endpoint, the local corpus, a SQLite archive."""
    prefixes = ("TEMPORAL_", "OPENAI_", "SLACK_", "SEARCH_", "DATABASE_", "RESEARCH_", "LLM_", "APPROVAL_", "WORKER_")
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(prefixes)},
        "TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
        "RESEARCH_TASK_QUEUE": queue,
        "SLACK_BOT_TOKEN": slack.workspace.bot_token,
        "SLACK_API_URL": slack.base_url,
        "SEARCH_PROVIDER": "local",
        # The tests' own copy of the corpus: the answers asserted cannot drift when corpus/ changes.
        "RESEARCH_CORPUS_DIR": str(REPO / "tests" / "data" / "corpus"),
        "DATABASE_URL": f"sqlite:///{data}/archive.db",
        **versioned_env(queue),
    }


@asynccontextmanager
async def running_stack(
    slack: SlackApiServer, env: WorkflowEnvironment, data: Path, worker_settings: dict[str, str] | None = None
) -> AsyncIterator[Stack]:
    address = env.client.service_client.config.target_host
    client = await temporal.connect({"target_host": address})
    stack = Stack(slack, env, f"bot-{uuid.uuid4().hex[:8]}", data, client, worker_settings=worker_settings or {})
    stack.start_worker()
    try:
        await stack.promote_worker()
        await stack.start_bot()
        yield stack
    finally:
        await stack.stop_bot()
        stack.stop_worker()
    log = (data / "worker.log").read_text(errors="replace") if (data / "worker.log").exists() else ""
    leaked = [secret for secret in (slack.workspace.bot_token, SECRET, "/response/") if secret in log]
    assert not leaked, f"the worker logged a secret: {leaked}"


# ------------------------------------------------------------------ what Slack sends


def command_fields(stack: Stack, channel: Channel, text: str, user: str = ASKER) -> dict[str, str]:
    """The form fields of a slash command, as Slack posts them."""
    ws = stack.workspace
    return payloads.command_form(
        ws, channel=channel, user=ws.users[user], text=text, response_url=stack.slack.response_url(channel.id, user)
    )


async def ask(stack: Stack, channel: Channel, text: str, user: str = ASKER) -> httpx.Response:
    return await stack.http.command(**command_fields(stack, channel, text, user))


def clicked(
    stack: Stack,
    channel: Channel,
    message: dict[str, Any],
    element: dict[str, Any],
    block_id: str,
    user: str,
    *,
    ephemeral: bool = False,
) -> dict[str, Any]:
    """The block_actions payload Slack sends when ``user`` clicks ``element`` of block ``block_id`` on
    ``message``, with a fresh trigger_id and response_url."""
    ws = stack.workspace
    return payloads.block_actions(
        ws,
        channel=channel,
        user=ws.users[user],
        source=message,
        element=element,
        block_id=block_id,
        response_url=stack.slack.response_url(channel.id, user),
        ephemeral=ephemeral,
    )


async def click(stack: Stack, channel: Channel, message: dict[str, Any], action_id: str, user: str) -> httpx.Response:
    """``user`` clicks the button ``action_id`` of ``message``'s actions block."""
    actions = next(block for block in message["blocks"] if block["type"] == "actions")
    button = next(element for element in actions["elements"] if element["action_id"] == action_id)
    return await stack.http.interaction(clicked(stack, channel, message, button, actions["block_id"], user))


async def submit(stack: Stack, view: dict[str, Any], user: str, feedback: str | None) -> httpx.Response:
    """A view_submission of the decision modal with ``feedback`` typed in."""
    ws = stack.workspace
    submitted = {**view, "state": {"values": payloads.input_values({"feedback": {"feedback": feedback}})}}
    payload = payloads.view_submission(ws, user=ws.users[user], view=submitted)
    return await stack.http.interaction(payload)


# ------------------------------------------------------------------ what Slack shows


def messages(stack: Stack, channel: Channel) -> list[dict[str, Any]]:
    with stack.workspace.lock:
        return copy.deepcopy(stack.workspace.messages.get(channel.id, []))


def roots(stack: Stack, channel: Channel) -> list[dict[str, Any]]:
    return [m for m in messages(stack, channel) if "thread_ts" not in m and m["user"] == stack.workspace.bot_user_id]


def draft(stack: Stack, channel: Channel, draft_round: int) -> dict[str, Any] | None:
    """The draft message carrying round ``draft_round``'s buttons, while it still has them."""
    return next(
        (
            m
            for m in messages(stack, channel)
            if any(
                b["type"] == "actions" and b.get("block_id") == f"decision-{draft_round}" for b in m.get("blocks") or []
            )
        ),
        None,
    )


def report(stack: Stack, channel: Channel) -> dict[str, Any] | None:
    return next(
        (
            m
            for m in messages(stack, channel)
            if any(b["type"] == "header" and b["text"]["text"] == "Research report" for b in m.get("blocks") or [])
        ),
        None,
    )


def ephemerals(stack: Stack, channel: Channel, user: str) -> list[str]:
    with stack.workspace.lock:
        found = [e for e in stack.workspace.ephemerals if e["channel"] == channel.id and e["user"] == user]
        return [e.get("text", "") + json.dumps(e.get("blocks") or []) for e in found]


async def new_ephemeral(stack: Stack, channel: Channel, user: str, seen: int) -> str:
    return (await eventually(lambda: ephemerals(stack, channel, user)[seen:], f"an ephemeral answer to {user}"))[0]


def views(stack: Stack, user: str) -> list[dict[str, Any]]:
    with stack.workspace.lock:
        return [copy.deepcopy(v) for v in stack.workspace.views.values() if v["user"] == user]


async def open_modal(stack: Stack, channel: Channel, message: dict[str, Any], kind: str, user: str) -> dict[str, Any]:
    """Click Approve or Revise and wait for the modal Slack opens for it."""
    before = len(views(stack, user))
    response = await click(stack, channel, message, kind, user)
    assert response.status_code == 200
    return (await eventually(lambda: views(stack, user)[before:], f"the {kind} modal for {user}", stack))[0]


def workflow_id_of(message: dict[str, Any]) -> str:
    actions = next(block for block in message["blocks"] if block["type"] == "actions")
    return json.loads(actions["elements"][-1]["value"])["wf"]


async def started_run(stack: Stack, channel: Channel, question: str = QUESTION) -> tuple[dict[str, Any], str]:
    """Ask, and wait for the first draft with its buttons: (the draft message, the run's workflow id)."""
    response = await ask(stack, channel, question)
    assert response.status_code == 200 and "Researching" in response.json()["text"]
    message = await eventually(lambda: draft(stack, channel, 1), "the first draft with buttons", stack)
    workflow_id = workflow_id_of(message)
    await wait_for_stage(stack.handle(workflow_id), Stage.AWAITING_DECISION, tries=1200)
    return message, workflow_id


async def runs_asked_in(stack: Stack, channel: Channel, user: str = ASKER) -> list[str]:
    query = f"WorkflowId STARTS_WITH 'research-{stack.workspace.team_id}-{user}-{channel.id}-'"
    return [execution.id async for execution in stack.client.list_workflows(query)]


async def status_of(stack: Stack, workflow_id: str) -> RunStatus:
    return await stack.handle(workflow_id).query(ResearchWorkflow.status)
