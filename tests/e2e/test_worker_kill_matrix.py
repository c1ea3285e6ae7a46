"""A worker SIGKILLed inside each kind of step: a new worker finishes the run, and no completed step is redone.

Each case holds one step (the model's plan, a search, a page read, the final answer) until the
worker running it is dead, then lets a second worker take over. The history must show the held
step started twice and every other step once, and every scheduled step completed exactly once.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from activities.prompts import prompt_kind
from bot.runs import build_request, start_run
from core.settings import Settings
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.search_servers import FakeWeb
from tests.workflows.helpers import decision, wait_for_stage
from workflows import FINALIZE_ANSWER, PLAN_RESEARCH, READ_PAGE, SEARCH
from workflows.models import DecisionKind, Outcome, Stage

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
WAIT = 120.0  # seconds a held step waits for the test; far longer than a kill and a restart take


class HeldModel:
    """Answers every prompt; the first request of kind ``hold`` waits until ``gate`` is set."""

    def __init__(self, hold: str | None) -> None:
        self.hold, self.reached, self.gate = hold, threading.Event(), threading.Event()
        self.kinds: Counter[str] = Counter()

    def __call__(self, messages: list[dict]) -> str:
        kind = prompt_kind(messages) or "other"
        self.kinds[kind] += 1
        if kind == self.hold and self.kinds[kind] == 1:
            self.reached.set()
            self.gate.wait(timeout=WAIT)
        if kind == "plan":
            return "1. What is durable execution?\n2. How are activities retried?"
        if kind == "finalize":
            return "Final: Temporal records every step in an event history [1]."
        return "Temporal records every step in an event history [1] and retries activities [2]."


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


# (the activity held, the model prompt or web path that holds it, whether the decision carries feedback)
CASES = {
    "plan": (PLAN_RESEARCH, "model:plan"),
    "search": (SEARCH, "web:/searxng"),
    "read": (READ_PAGE, "web:/pages/"),
    "finalize": (FINALIZE_ANSWER, "model:finalize"),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_a_worker_killed_inside_a_step_is_replaced_and_nothing_completed_is_redone(
    env: WorkflowEnvironment, tmp_path: Path, case: str
) -> None:
    held, where = CASES[case]
    kind, _, target = where.partition(":")
    model = HeldModel(target if kind == "model" else None)
    with FakeOpenAI(reply=model) as llm, FakeWeb() as web:
        pages = [web.url + "/pages/article.html", web.url + "/pages/notes.txt"]
        web.searxng_for = lambda query: [
            {"url": url, "title": f"Page {n}", "content": query, "score": 1.0} for n, url in enumerate(pages)
        ]
        arrived, gate = web.hold(target) if kind == "web" else (model.reached, model.gate)
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
            "DATABASE_URL": f"sqlite:///{tmp_path}/archive.db",
        }
        settings = Settings(research_task_queue=queue, openai_base_url=llm.base_url)
        request = build_request(settings, "How does Temporal make workflows durable?", requested_by="U_ASKER")
        handle: WorkflowHandle[Any, Any] = await start_run(env.client, settings, request, workflow_id=queue)
        feedback = "Say it in one sentence." if held == FINALIZE_ANSWER else None

        with worker(worker_env) as first:
            if held == FINALIZE_ANSWER:
                status = await wait_for_stage(handle, Stage.AWAITING_DECISION, tries=1200, every=0.1)
                await handle.execute_update(
                    "decide", decision(DecisionKind.APPROVE, draft_round=status.draft_round, feedback=feedback)
                )
            await reached(arrived, case)
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
        gate.set()

        with worker(worker_env) as second:
            if held != FINALIZE_ANSWER:
                status = await wait_for_stage(handle, Stage.AWAITING_DECISION, tries=1200, every=0.1)
                await handle.execute_update("decide", decision(DecisionKind.APPROVE, draft_round=status.draft_round))
            result = await asyncio.wait_for(handle.result(), WAIT)
        assert second.returncode == 0, "SIGTERM should drain and exit cleanly"

    assert result.outcome == Outcome.APPROVED
    started, completed, completions = step_starts(await handle.fetch_history())
    assert set(completions.values()) == {1}, f"every scheduled step completes exactly once: {completions}"
    redone = {name for name in started if started[name] > completed[name]}
    assert redone == {held}, f"only the held step may have run twice: started {started}, completed {completed}"
