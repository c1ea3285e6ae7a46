"""A worker SIGKILLed inside each kind of step: a new worker finishes the run, and no completed step is redone.

Each case holds one step until the worker running it is dead, then lets a second worker take over:
the model's plan, a search, a page read, the draft after a guardrail sent it back, the final answer,
a Slack post that Slack has taken but not yet answered, and the archive's insert (PostgreSQL, behind a
table lock). The history must show the held step started again and every other step once, every
scheduled step completed exactly once, each of the run's Slack messages posted once, and one archive row.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from activities.model.prompts import prompt_kind
from bot.runs import build_request, start_run
from core.settings import Settings
from sandbox import SlackApiServer
from tests.e2e.slack_stack import ASKER
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.search_servers import FakeWeb
from tests.support.versions import promote_queue, versioned_env
from tests.workflows.helpers import decision, wait_for_stage
from workflows.models import DecisionKind, Outcome, SlackContext, Stage

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
WAIT = 120.0  # seconds a held step waits for the test; far longer than a kill and a restart take


class HeldModel:
    """Answers every prompt; request number ``nth`` of kind ``hold`` waits until ``gate`` is set.
    The first draft cites a source that does not exist, so the guardrail sends it back once."""

    def __init__(self, hold: str | None, nth: int = 1) -> None:
        self.hold, self.nth, self.reached, self.gate = hold, nth, threading.Event(), threading.Event()
        self.kinds: Counter[str] = Counter()

    def __call__(self, messages: list[dict]) -> str:
        kind = prompt_kind(messages) or "other"
        self.kinds[kind] += 1
        if kind == self.hold and self.kinds[kind] == self.nth:
            self.reached.set()
            self.gate.wait(timeout=WAIT)
        if kind == "plan":
            return "1. What is durable execution?\n2. How are activities retried?"
        if kind == "reflect":
            return "NONE"  # the pages cover both sub-questions: no look again
        if kind == "finalize":
            return "Final: Temporal records every step in an event history [1]."
        if kind == "draft" and self.kinds[kind] == 1:
            return "Temporal records every step in an event history [7]."  # no source 7: sent back
        return "Temporal records every step in an event history [1] and retries activities [2]."


WAITING_FOR_THE_LOCK = (
    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query ILIKE '%research_runs%'"
)


class TableLock:
    """Holds an exclusive lock on the archive's runs table, so the worker's insert waits behind it."""

    def __init__(self, url: str) -> None:
        self.url, self.reached, self.gate = url, threading.Event(), threading.Event()

    def hold(self) -> None:
        with psycopg.connect(self.url) as connection:
            connection.execute("LOCK TABLE research_runs IN EXCLUSIVE MODE")
            with psycopg.connect(self.url, autocommit=True) as watcher:
                while not self.gate.is_set():
                    waiting = watcher.execute(WAITING_FOR_THE_LOCK).fetchone()
                    if waiting and waiting[0]:
                        self.reached.set()
                    time.sleep(0.05)


@contextmanager
def worker(env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "researchbot", "worker"],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


async def reached(event: threading.Event, what: str) -> None:
    if not await asyncio.to_thread(event.wait, WAIT):
        raise AssertionError(f"the run never reached {what}")


def step_starts(history: Any) -> tuple[Counter[str], Counter[str], dict[int, int]]:
    """Per activity name: how many attempts started, and how many schedules completed; and per schedule, completions."""
    names: dict[int, str] = {}
    started: Counter[str] = Counter()
    completed: Counter[str] = Counter()
    completions: dict[int, int] = {}
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            names[event.event_id] = event.activity_task_scheduled_event_attributes.activity_type.name
            completions[event.event_id] = 0
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            # The started event holds the attempt that finally ran; earlier attempts show in its number.
            attributes = event.activity_task_started_event_attributes
            started[names[attributes.scheduled_event_id]] += attributes.attempt
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            scheduled = event.activity_task_completed_event_attributes.scheduled_event_id
            completed[names[scheduled]] += 1
            completions[scheduled] += 1
    return started, completed, completions


# (the activity held, what holds it: a model prompt, a web path, a Slack method or the archive)
CASES = {
    "plan": ("plan_research", "model:plan"),
    "search": ("search", "web:/searxng"),
    "read": ("read_page", "web:/pages/"),
    "guardrail_retry": ("synthesize_draft", "model:draft:2"),
    "finalize": ("finalize_answer", "model:finalize"),
    "report_post": ("report_progress", "slack:chat.postMessage"),
    "store": ("store_result", "archive:"),
}


def posted_steps(slack: SlackApiServer, channel: str, workflow_id: str) -> Counter[str]:
    """How many times each of the run's steps was posted (every post names its run and step)."""
    steps: Counter[str] = Counter()
    for message in slack.workspace.messages.get(channel, []):
        payload = (message.get("metadata") or {}).get("event_payload") or {}
        if payload.get("workflow_id") == workflow_id:
            steps[payload["step"]] += 1
    return steps


@pytest.mark.parametrize("case", list(CASES))
async def test_a_worker_killed_inside_a_step_is_replaced_and_nothing_completed_is_redone(
    env: WorkflowEnvironment, slack: SlackApiServer, tmp_path: Path, case: str, request: pytest.FixtureRequest
) -> None:
    held, where = CASES[case]
    kind, _, target = where.partition(":")
    prompt, _, nth = target.partition(":")
    model = HeldModel(prompt if kind == "model" else None, int(nth or 1))
    database = request.getfixturevalue("postgres_url") if kind == "archive" else f"sqlite:///{tmp_path}/archive.db"
    channel = slack.workspace.add_channel(f"kill-{case}-{uuid.uuid4().hex[:6]}", members=[ASKER])
    with FakeOpenAI(reply=model) as llm, FakeWeb() as web:
        pages = [web.url + "/pages/article.html", web.url + "/pages/notes.txt"]
        web.searxng_for = lambda query: [
            {"url": url, "title": f"Page {n}", "content": query, "score": 1.0} for n, url in enumerate(pages)
        ]
        lock = TableLock(database) if kind == "archive" else None
        arrived, gate = {
            "model": lambda: (model.reached, model.gate),
            "web": lambda: web.hold(target),
            "slack": lambda: slack.hold_response(target),
            "archive": lambda: (lock.reached, lock.gate) if lock else (model.reached, model.gate),
        }[kind]()
        queue = f"kill-{case}-{uuid.uuid4().hex[:8]}"
        worker_env = {
            **os.environ,
            "TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
            "RESEARCH_TASK_QUEUE": queue,
            "OPENAI_BASE_URL": llm.base_url,
            "OPENAI_API_KEY": "sk-test",
            "SEARCH_PROVIDER": "searxng",
            "SEARXNG_URL": web.url + "/searxng",
            "FETCH_ALLOW_PRIVATE_NETWORKS": "true",
            "DATABASE_URL": database,
            "SLACK_BOT_TOKEN": slack.workspace.bot_token,
            "SLACK_API_URL": slack.base_url,
            **versioned_env(queue),
        }
        settings = Settings(research_task_queue=queue, openai_base_url=llm.base_url)
        asked = build_request(
            settings,
            "How does Temporal make workflows durable?",
            requested_by=ASKER,
            slack=SlackContext(channel_id=channel.id, user_id=ASKER),
        )
        handle: WorkflowHandle[Any, Any] = await start_run(env.client, settings, asked, workflow_id=queue)
        # The decision comes before the kill where the held step follows it.
        decide_first = held in ("finalize_answer", "store_result")
        feedback = "Say it in one sentence." if held == "finalize_answer" else None

        with worker(worker_env) as first:
            await promote_queue(env.client, queue)  # the second worker is the same version: current already
            if lock is not None:
                await wait_for_table(database)
                holder = threading.Thread(target=lock.hold, daemon=True)
                holder.start()
            if decide_first:
                status = await wait_for_stage(handle, Stage.AWAITING_DECISION, tries=1200, every=0.1)
                await handle.execute_update(
                    "decide",
                    decision(DecisionKind.APPROVE, draft_round=status.draft_round, by=ASKER, feedback=feedback),
                )
            await reached(arrived, case)
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
        gate.set()

        with worker(worker_env) as second:
            if not decide_first:
                status = await wait_for_stage(handle, Stage.AWAITING_DECISION, tries=1200, every=0.1)
                await handle.execute_update(
                    "decide", decision(DecisionKind.APPROVE, draft_round=status.draft_round, by=ASKER)
                )
            result = await asyncio.wait_for(handle.result(), WAIT)
        assert second.returncode == 0, "SIGTERM should drain and exit cleanly"

    assert result.outcome == Outcome.APPROVED
    started, completed, completions = step_starts(await handle.fetch_history())
    assert set(completions.values()) == {1}, f"every scheduled step completes exactly once: {completions}"
    redone = {name for name in started if started[name] > completed[name]}
    # A progress report runs beside the other steps, so it may have been in flight at the kill too.
    assert held in redone and redone <= {held, "report_progress"}, (
        f"only the steps in flight may run twice: started {started}, completed {completed}"
    )
    steps = posted_steps(slack, channel.id, queue)
    assert {"root", "draft-1", "final"} <= set(steps) and set(steps.values()) == {1}, f"posted twice: {steps}"
    with psycopg.connect(database) if kind == "archive" else contextlib.nullcontext() as archive:
        if archive is not None:
            rows = archive.execute("SELECT count(*) FROM research_runs WHERE workflow_id = %s", (queue,)).fetchone()
            assert rows == (1,), "the run must be archived exactly once"


async def wait_for_table(url: str) -> None:
    """The worker creates the archive's tables as it starts; the lock needs them there."""
    for _ in range(600):
        with psycopg.connect(url, autocommit=True) as connection:
            if connection.execute("SELECT to_regclass('research_runs')").fetchone() != (None,):
                return
        await asyncio.sleep(0.1)
    raise AssertionError("the worker never created the archive's tables")
