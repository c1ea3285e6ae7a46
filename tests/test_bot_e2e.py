"""The Slack bot end to end: signed requests over real HTTP to the bot served by uvicorn, a real
`researchbot worker` process posting to the sandbox Slack, and the session's Temporal dev server.

Command → ack → root message and thread → draft with buttons → click → modal → submission →
update (or a signal when no worker answers) → the report in the thread.
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from temporalio.client import Client, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from bot import listeners
from bot.app import build_asgi_app
from bot.server import HttpServer
from researchbot import temporal
from researchbot.settings import Settings
from sandbox import Channel, SlackApiServer, Workspace
from tests.fakes.slack_signing import SlackSender
from tests.workflow_helpers import wait_for_stage
from workflows.models import DecisionKind, Outcome, ResearchResult, RunStatus, Stage
from workflows.research import ResearchWorkflow

REPO = Path(__file__).resolve().parent.parent
SECRET = "e2e-signing-secret"
ASKER, APPROVER, STRANGER = "UASKER", "UAPPROVER", "USTRANGER"
QUESTION = "How does Temporal retry activities & what are heartbeats?"
T = TypeVar("T")


# ------------------------------------------------------------------ the pieces: Slack, a worker process, the bot


@pytest.fixture(scope="module")
def slack() -> Any:
    workspace = Workspace()
    for name, user_id in (("asker", ASKER), ("approver", APPROVER), ("stranger", STRANGER)):
        workspace.add_user(name, id=user_id)
    with SlackApiServer(workspace) as server:
        yield server


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

    @property
    def workspace(self) -> Workspace:
        return self.slack.workspace

    @property
    def http(self) -> SlackSender:
        assert self.sender is not None, "the bot is not running"
        return self.sender

    @property
    def settings(self) -> Settings:
        return bot_settings(self.slack, self.queue)

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
        env = worker_env(self.slack, self.env, self.queue, self.data)
        with (self.data / "worker.log").open("ab") as log:
            self.worker = subprocess.Popen([sys.executable, "-m", "researchbot", "worker"], env=env, cwd=REPO,
                                           stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

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


def bot_settings(slack: SlackApiServer, queue: str) -> Settings:
    return Settings(
        _env_file=None, research_task_queue=queue, slack_bot_token=slack.workspace.bot_token,
        slack_api_url=slack.base_url, slack_signing_secret=SECRET, research_approvers=[APPROVER],
    )


def worker_env(slack: SlackApiServer, env: WorkflowEnvironment, queue: str, data: Path) -> dict[str, str]:
    """A worker as an operator runs it, offline: no LLM endpoint, the local corpus, a SQLite archive."""
    prefixes = ("TEMPORAL_", "OPENAI_", "SLACK_", "SEARCH_", "DATABASE_", "RESEARCH_", "LLM_", "APPROVAL_")
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(prefixes)},
        "TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
        "RESEARCH_TASK_QUEUE": queue,
        "SLACK_BOT_TOKEN": slack.workspace.bot_token,
        "SLACK_API_URL": slack.base_url,
        "SEARCH_PROVIDER": "local",
        "DATABASE_URL": f"sqlite:///{data}/archive.db",
    }


@asynccontextmanager
async def running_stack(slack: SlackApiServer, env: WorkflowEnvironment, data: Path) -> AsyncIterator[Stack]:
    address = env.client.service_client.config.target_host
    stack = Stack(slack, env, f"bot-{uuid.uuid4().hex[:8]}", data, await temporal.connect({"target_host": address}))
    stack.start_worker()
    try:
        await stack.start_bot()
        yield stack
    finally:
        await stack.stop_bot()
        stack.stop_worker()


@pytest.fixture(scope="module")
async def stack(
    slack: SlackApiServer, env: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    async with running_stack(slack, env, tmp_path_factory.mktemp("bot")) as running:
        yield running


@pytest.fixture
def channel(slack: SlackApiServer) -> Channel:
    """A fresh public channel per test; the bot is not a member (chat:write.public lets it post)."""
    return slack.workspace.add_channel(f"research-{uuid.uuid4().hex[:6]}", members=[ASKER, APPROVER, STRANGER])


# ------------------------------------------------------------------ what Slack sends


def command_fields(stack: Stack, channel: Channel, text: str, user: str = ASKER) -> dict[str, str]:
    """The form fields of a slash command, as Slack posts them."""
    ws = stack.workspace
    return {
        "token": "legacy-verification-token", "team_id": ws.team_id, "team_domain": ws.domain,
        "channel_id": channel.id, "channel_name": channel.name, "user_id": user, "user_name": ws.users[user].name,
        "command": "/research", "text": text, "api_app_id": ws.app_id, "is_enterprise_install": "false",
        "response_url": stack.slack.response_url(channel.id, user), "trigger_id": ws.issue_trigger(user),
    }


async def ask(stack: Stack, channel: Channel, text: str, user: str = ASKER) -> httpx.Response:
    return await stack.http.command(**command_fields(stack, channel, text, user))


def _someone(stack: Stack, user: str) -> dict[str, str]:
    ws = stack.workspace
    return {"id": user, "username": ws.users[user].name, "name": ws.users[user].name, "team_id": ws.team_id}


async def click(stack: Stack, channel: Channel, message: dict[str, Any], action_id: str, user: str) -> httpx.Response:
    """A block_actions payload for a button on ``message``, with a fresh trigger_id and response_url."""
    ws = stack.workspace
    actions = next(block for block in message["blocks"] if block["type"] == "actions")
    button = next(element for element in actions["elements"] if element["action_id"] == action_id)
    payload = {
        "type": "block_actions", "user": _someone(stack, user), "api_app_id": ws.app_id, "token": "legacy-verification-token",
        "container": {"type": "message", "message_ts": message["ts"], "channel_id": channel.id, "is_ephemeral": False,
                      "thread_ts": message.get("thread_ts")},
        "trigger_id": ws.issue_trigger(user), "team": {"id": ws.team_id, "domain": ws.domain}, "enterprise": None,
        "is_enterprise_install": False, "channel": {"id": channel.id, "name": channel.name}, "message": message,
        "state": {"values": {}}, "response_url": stack.slack.response_url(channel.id, user),
        "actions": [{"action_id": action_id, "block_id": actions["block_id"], "text": button["text"],
                     "value": button["value"], "type": "button", "action_ts": ws.new_ts()}],
    }
    return await stack.http.interaction(payload)


async def submit(stack: Stack, view: dict[str, Any], user: str, feedback: str | None) -> httpx.Response:
    """A view_submission of the decision modal with ``feedback`` typed in."""
    ws = stack.workspace
    submitted = copy.deepcopy(view)
    submitted["state"] = {"values": {"feedback": {"feedback": {"type": "plain_text_input", "value": feedback}}}}
    payload = {
        "type": "view_submission", "team": {"id": ws.team_id, "domain": ws.domain}, "user": _someone(stack, user),
        "api_app_id": ws.app_id, "token": "legacy-verification-token", "trigger_id": ws.issue_trigger(user),
        "view": submitted, "response_urls": [], "is_enterprise_install": False, "enterprise": None,
    }
    return await stack.http.interaction(payload)


# ------------------------------------------------------------------ what Slack shows


async def eventually(find: Callable[[], T | None], what: str, stack: Stack | None = None, tries: int = 1800) -> T:
    """Poll until ``find`` returns something (a wait, not a timing assertion)."""
    for _ in range(tries):
        if found := find():
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"{what} never happened" + (f"; worker log:\n{stack.worker_log()}" if stack else ""))


def messages(stack: Stack, channel: Channel) -> list[dict[str, Any]]:
    with stack.workspace.lock:
        return copy.deepcopy(stack.workspace.messages.get(channel.id, []))


def roots(stack: Stack, channel: Channel) -> list[dict[str, Any]]:
    return [m for m in messages(stack, channel) if "thread_ts" not in m and m["user"] == stack.workspace.bot_user_id]


def draft(stack: Stack, channel: Channel, draft_round: int) -> dict[str, Any] | None:
    """The draft message carrying round ``draft_round``'s buttons, while it still has them."""
    return next((m for m in messages(stack, channel) if any(
        b["type"] == "actions" and b.get("block_id") == f"decision-{draft_round}" for b in m.get("blocks") or [])), None)


def report(stack: Stack, channel: Channel) -> dict[str, Any] | None:
    return next((m for m in messages(stack, channel) if any(
        b["type"] == "header" and b["text"]["text"] == "Research report" for b in m.get("blocks") or [])), None)


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


# ------------------------------------------------------------------ the tests


async def test_a_question_becomes_a_reviewed_report_in_its_thread(stack: Stack, channel: Channel) -> None:
    first_draft, workflow_id = await started_run(stack, channel)
    [root] = roots(stack, channel)
    assert "How does Temporal retry activities" in root["text"]
    assert first_draft["thread_ts"] == root["ts"]
    thread = [m for m in messages(stack, channel) if m.get("thread_ts") == root["ts"]]
    assert len(thread) >= 3, "the plan and progress come before the draft"
    assert workflow_id.startswith(f"research-{stack.workspace.team_id}-{ASKER}-{channel.id}-")

    seen = len(ephemerals(stack, channel, ASKER))
    assert (await ask(stack, channel, "status")).status_code == 200
    listing = await new_ephemeral(stack, channel, ASKER, seen)
    assert "How does Temporal retry activities" in listing and "Waiting for a decision" in listing

    modal = await open_modal(stack, channel, first_draft, "approve", APPROVER)
    assert modal["callback_id"] == "decision_modal"
    assert json.loads(modal["private_metadata"]) == {"wf": workflow_id, "round": 1, "kind": "approve"}
    assert "How does Temporal retry activities &amp; what are heartbeats?" in json.dumps(modal["blocks"])
    answer = await submit(stack, modal, APPROVER, "Keep it short.")
    assert answer.status_code == 200 and "errors" not in answer.text

    result = await stack.handle(workflow_id).result()
    assert result.outcome is Outcome.APPROVED
    [decided] = result.decisions
    assert (decided.kind, decided.decided_by, decided.feedback, decided.via) == (
        DecisionKind.APPROVE, APPROVER, "Keep it short.", "update")
    final = await eventually(lambda: report(stack, channel), "the final report in the thread", stack)
    assert final["thread_ts"] == root["ts"]
    assert draft(stack, channel, 1) is None, "the draft's buttons were replaced once it was decided"


async def test_someone_who_may_not_decide_is_refused_and_the_run_keeps_waiting(stack: Stack, channel: Channel) -> None:
    message, workflow_id = await started_run(stack, channel)
    for kind in ("approve", "reject"):
        seen, opened = len(ephemerals(stack, channel, STRANGER)), len(views(stack, STRANGER))
        assert (await click(stack, channel, message, kind, STRANGER)).status_code == 200
        refusal = await new_ephemeral(stack, channel, STRANGER, seen)
        assert "who asked, and the configured approvers can decide" in refusal and f"<@{ASKER}>" in refusal
        assert len(views(stack, STRANGER)) == opened, "no modal for someone who may not decide"
    status = await status_of(stack, workflow_id)
    assert status.stage is Stage.AWAITING_DECISION and status.decisions == []
    assert draft(stack, channel, 1) is not None

    seen = len(ephemerals(stack, channel, ASKER))
    assert (await click(stack, channel, message, "reject", ASKER)).status_code == 200
    assert "Rejected" in await new_ephemeral(stack, channel, ASKER, seen)
    assert (await stack.handle(workflow_id).result()).outcome is Outcome.REJECTED


async def test_a_stale_round_a_double_submission_and_a_click_after_the_end_get_clear_answers(
    stack: Stack, channel: Channel
) -> None:
    first, workflow_id = await started_run(stack, channel)
    revise = await open_modal(stack, channel, first, "revise", ASKER)
    assert "errors" not in (await submit(stack, revise, ASKER, "Add more about heartbeats.")).text
    second = await eventually(lambda: draft(stack, channel, 2), "the second draft", stack)
    await wait_for_stage(stack.handle(workflow_id), Stage.AWAITING_DECISION, draft_round=2, tries=1200)

    stale = await open_modal(stack, channel, first, "approve", ASKER)
    refused = await submit(stack, stale, ASKER, None)
    assert refused.json() == {"response_action": "errors", "errors": {
        "feedback": "that decision is for draft round 1, but the current draft is round 2"}}

    approve = await open_modal(stack, channel, second, "approve", APPROVER)
    assert "errors" not in (await submit(stack, approve, APPROVER, None)).text
    again = await submit(stack, approve, APPROVER, None)
    assert again.json()["errors"]["feedback"] == "this draft has already been decided"
    result = await stack.handle(workflow_id).result()
    assert result.outcome is Outcome.APPROVED
    assert [(d.kind, d.applied) for d in result.decisions] == [(DecisionKind.REVISE, True), (DecisionKind.APPROVE, True)]

    seen = len(ephemerals(stack, channel, ASKER))
    assert (await click(stack, channel, second, "reject", ASKER)).status_code == 200
    assert "this run has already ended; nothing was changed" in await new_ephemeral(stack, channel, ASKER, seen)
    assert len((await stack.handle(workflow_id).result()).decisions) == 2


async def test_a_bot_restarted_between_draft_and_click_still_takes_the_decision(stack: Stack, channel: Channel) -> None:
    message, workflow_id = await started_run(stack, channel)
    assert stack.bot is not None
    port = stack.bot.port
    await stack.stop_bot()
    await stack.start_bot(port)
    modal = await open_modal(stack, channel, message, "approve", ASKER)
    assert "errors" not in (await submit(stack, modal, ASKER, None)).text
    assert (await stack.handle(workflow_id).result()).outcome is Outcome.APPROVED
    await eventually(lambda: report(stack, channel), "the final report in the thread", stack)


async def test_a_decision_while_no_worker_runs_is_queued_and_applied_when_one_starts(
    slack: SlackApiServer, env: WorkflowEnvironment, channel: Channel, tmp_path: Path
) -> None:
    async with running_stack(slack, env, tmp_path) as own:
        message, workflow_id = await started_run(own, channel)
        own.stop_worker()
        modal = await open_modal(own, channel, message, "approve", ASKER)
        seen = len(ephemerals(own, channel, ASKER))
        answer = await submit(own, modal, ASKER, None)
        assert answer.status_code == 200 and "errors" not in answer.text, answer.text
        assert "your decision is queued" in await new_ephemeral(own, channel, ASKER, seen)
        assert (await own.handle(workflow_id).describe()).status is not None

        own.start_worker()
        result = await own.handle(workflow_id).result()
        assert result.outcome is Outcome.APPROVED
        assert [(d.kind, d.decided_by) for d in result.decisions if d.applied] == [(DecisionKind.APPROVE, ASKER)]
        await eventually(lambda: report(own, channel), "the final report in the thread", own)


@pytest.mark.parametrize(("text", "expected"), [
    ("", "Usage:"),
    ("   ", "Usage:"),
    ("help", "ResearchBot* researches a question"),
    ("x" * 2001, "the question is 2001 characters long; keep it under 2000"),
])
async def test_help_usage_and_an_overlong_question_answer_privately_and_start_nothing(
    stack: Stack, channel: Channel, text: str, expected: str
) -> None:
    response = await ask(stack, channel, text)
    assert response.status_code == 200
    assert expected in response.text
    assert response.json().get("response_type", "ephemeral") == "ephemeral"
    assert await runs_asked_in(stack, channel) == []
    assert messages(stack, channel) == []


async def test_the_same_command_delivered_twice_starts_one_run(stack: Stack, channel: Channel) -> None:
    fields = command_fields(stack, channel, "What is continue-as-new?")
    first, second = [await stack.http.command(**fields) for _ in range(2)]
    assert first.status_code == second.status_code == 200
    assert "Researching" in first.json()["text"] and "Researching" in second.json()["text"]
    await eventually(lambda: draft(stack, channel, 1), "the draft", stack)
    [workflow_id] = await runs_asked_in(stack, channel)
    assert len(roots(stack, channel)) == 1
    await stack.handle(workflow_id).terminate("test over")


async def test_an_unreachable_temporal_gets_a_clear_answer_and_nothing_else(slack: SlackApiServer, channel: Channel) -> None:
    dead = await Client.connect("127.0.0.1:1", lazy=True, data_converter=pydantic_data_converter)
    stack = Stack(slack, env=None, queue="nowhere", data=Path("."), client=dead)  # type: ignore[arg-type]
    await stack.start_bot()
    try:
        # The ack never waits on Temporal; the asker then hears, in private, that nothing started.
        seen = len(ephemerals(stack, channel, ASKER))
        response = await ask(stack, channel, "What is durable execution?")
        assert response.status_code == 200 and "Researching" in response.json()["text"]
        assert listeners.commands.UNAVAILABLE in await new_ephemeral(stack, channel, ASKER, seen)

        seen = len(ephemerals(stack, channel, ASKER))
        assert (await ask(stack, channel, "status")).status_code == 200
        assert "can't list your runs" in await new_ephemeral(stack, channel, ASKER, seen)

        button = {"blocks": [{"type": "actions", "block_id": "decision-1", "elements": [{
            "type": "button", "action_id": "reject", "text": {"type": "plain_text", "text": "Reject"},
            "value": json.dumps({"wf": f"research-{slack.workspace.team_id}-{ASKER}-{channel.id}-{'0' * 20}", "round": 1})}]}],
            "ts": slack.workspace.new_ts(), "text": "Draft 1"}
        seen = len(ephemerals(stack, channel, ASKER))
        assert (await click(stack, channel, button, "reject", ASKER)).status_code == 200
        assert "did not answer in time" in await new_ephemeral(stack, channel, ASKER, seen)
    finally:
        await stack.stop_bot()
