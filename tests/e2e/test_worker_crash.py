"""A worker process killed with SIGKILL mid-run: a new worker finishes the run, redoing no completed step."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import threading
import uuid
from collections import Counter
from pathlib import Path

from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment

from activities.model.prompts import prompt_kind
from bot.runs import build_request, start_run
from core.settings import Settings
from tests.fakes.openai_server import FakeOpenAI
from tests.support.versions import promote_queue, versioned_env
from tests.workflows.helpers import decision, wait_for_stage
from workflows.models import DecisionKind, Outcome, Stage

REPO = Path(__file__).resolve().parents[2]


class ScriptedModel:
    """Answers plans with a list, the look for gaps with none, the claims' judge with no refutation, and
    drafts with a sentence of source [1],
    cited (so the citation check passes it); the first draft hangs until released."""

    def __init__(self) -> None:
        self.release_first_draft = threading.Event()
        self.kinds: Counter[str] = Counter()

    def __call__(self, messages: list[dict]) -> str:
        if prompt_kind(messages) == "plan":
            self.kinds["plan"] += 1
            return "1. What is durable execution?\n2. How are activities retried?"
        if prompt_kind(messages) == "reflect":
            self.kinds["reflect"] += 1
            return "NONE"
        if prompt_kind(messages) == "judge":
            return '{"verdicts": []}'  # the claims' second opinion refutes nothing
        self.kinds["draft"] += 1
        if self.kinds["draft"] == 1:
            self.release_first_draft.wait(timeout=60)
        return quote_first_source(messages[-1]["content"])


def quote_first_source(prompt: str) -> str:
    block = prompt.split('<source number="1">\n', 1)[1].split("</source>", 1)[0]
    line = next(line for line in block.splitlines() if len(line) > 40 and not line.startswith(("#", "|", "`", "-")))
    return re.split(r"(?<=[.!?])\s", line)[0] + " [1]"


def start_worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "researchbot", "worker"],
        env=env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def test_sigkill_mid_activity_then_a_new_worker_finishes_the_run(
    env: WorkflowEnvironment, tmp_path: Path
) -> None:
    model = ScriptedModel()
    queue = f"crash-{uuid.uuid4().hex[:8]}"
    with FakeOpenAI(reply=model) as llm:
        worker_env = {
            **os.environ,
            "TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
            "RESEARCH_TASK_QUEUE": queue,
            "OPENAI_BASE_URL": llm.base_url,
            "OPENAI_API_KEY": "sk-test",
            "SEARCH_PROVIDER": "local",
            "DATABASE_URL": f"sqlite:///{tmp_path}/archive.db",
            **versioned_env(queue),
        }
        settings = Settings(research_task_queue=queue, openai_base_url=llm.base_url)
        request = build_request(settings, "How does Temporal make workflows durable?", requested_by="U_ASKER")
        handle = await start_run(env.client, settings, request, workflow_id=f"crash-{uuid.uuid4().hex[:8]}")

        first = start_worker(worker_env)
        try:
            await promote_queue(env.client, queue)  # the second worker is the same version: current already
            for _ in range(600):
                if model.kinds["draft"] >= 1:
                    break
                await asyncio.sleep(0.1)
            assert model.kinds == Counter(plan=1, reflect=1, draft=1), "the run never reached its first draft"
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
        finally:
            first.kill()
        model.release_first_draft.set()

        second = start_worker(worker_env)
        try:
            status = await wait_for_stage(handle, Stage.AWAITING_DECISION, tries=1200)
            await handle.execute_update("decide", decision(DecisionKind.APPROVE, draft_round=status.draft_round))
            result = await handle.result()
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(timeout=30)

    assert result.outcome == Outcome.APPROVED
    assert second.returncode == 0, "SIGTERM should drain and exit cleanly"
    # The plan and the look for gaps finished before the kill and were not asked again; only the
    # in-flight draft ran twice.
    assert model.kinds == Counter(plan=1, reflect=1, draft=2)
    history = await handle.fetch_history()
    scheduled: dict[int, str] = {}
    completed: Counter[str] = Counter()
    attempts: dict[str, int] = {}
    for event in history.events:
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            scheduled[event.event_id] = event.activity_task_scheduled_event_attributes.activity_type.name
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            name = scheduled[event.activity_task_started_event_attributes.scheduled_event_id]
            attempts[name] = max(attempts.get(name, 0), event.activity_task_started_event_attributes.attempt)
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            completed[scheduled[event.activity_task_completed_event_attributes.scheduled_event_id]] += 1
    assert attempts["synthesize_draft"] == 2
    assert {name: n for name, n in attempts.items() if name != "synthesize_draft"} == {
        name: 1 for name in attempts if name != "synthesize_draft"
    }
    assert completed["plan_research"] == 1 and completed["synthesize_draft"] == 1
