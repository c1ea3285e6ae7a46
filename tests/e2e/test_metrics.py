"""Metrics for operators: `researchbot worker` with METRICS_BIND_ADDRESS serves Prometheus text at
/metrics, with the Temporal SDK's own metrics and ResearchBot's runs by outcome and LLM tokens."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
from temporalio.testing import WorkflowEnvironment

from tests.support.ports import free_port
from tests.support.versions import promote_queue, versioned_env
from tests.workflows.helpers import decision, start_run, wait_for_stage
from workflows.models import DecisionKind, Outcome, Rating, ReportRating, Stage
from workflows.ratings import RatingWorkflow, rating_workflow_id

REPO = Path(__file__).resolve().parents[2]


def sample(metrics: str, name: str, **labels: str) -> float:
    """The value of the Prometheus sample called ``name`` that has ``labels``."""
    for line in metrics.splitlines():
        match = re.match(r"^(\w+)\{(.*)\} (\S+)$", line)
        if match and match.group(1) == name:
            found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(2)))
            if all(found.get(key) == value for key, value in labels.items()):
                return float(match.group(3))
    raise AssertionError(f"no {name} sample with {labels} in:\n{metrics[:3000]}")


async def test_the_worker_serves_prometheus_metrics_of_its_runs(env: WorkflowEnvironment, tmp_path: Path) -> None:
    queue, port = f"metrics-{uuid.uuid4().hex[:8]}", free_port()
    prefixes = ("TEMPORAL_", "OPENAI_", "SLACK_", "SEARCH_", "DATABASE_", "RESEARCH_", "LLM_", "METRICS_")
    worker_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(prefixes)},
        "TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
        "RESEARCH_TASK_QUEUE": queue,
        "DATABASE_URL": f"sqlite:///{tmp_path}/archive.db",
        "METRICS_BIND_ADDRESS": f"127.0.0.1:{port}",
        **versioned_env(queue),
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "researchbot", "worker"],
        env=worker_env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )
    try:
        await promote_queue(env.client, queue)
        handle = await start_run(env.client, queue)
        status = await wait_for_stage(handle, Stage.AWAITING_DECISION, tries=1200)
        await handle.execute_update("decide", decision(DecisionKind.APPROVE, draft_round=status.draft_round))
        assert (await handle.result()).outcome == Outcome.APPROVED
        for n, rating in enumerate((Rating.POSITIVE, Rating.POSITIVE, Rating.NEGATIVE)):  # 👍 👍 👎 on its report
            rated = ReportRating(
                feedback_id=f"click-{n}",
                workflow_id=handle.id,
                rating=rating,
                given_by="U1",
                given_at=datetime.now(UTC),
            )
            await env.client.execute_workflow(RatingWorkflow.run, rated, id=rating_workflow_id(rated), task_queue=queue)
        async with httpx.AsyncClient() as http:
            for _ in range(100):  # exported as they are recorded: wait for the run's last one
                metrics = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
                if "research_runs_finished" in metrics and "researchbot_answer_feedback" in metrics:
                    break
                await asyncio.sleep(0.1)
    finally:
        worker.terminate()
        worker.wait(timeout=60)
    assert sample(metrics, "research_runs_finished", outcome="approved", task_queue=queue) == 1
    assert sample(metrics, "research_llm_tokens", kind="prompt", model="offline") > 0
    assert sample(metrics, "research_llm_tokens", kind="completion", model="offline") > 0
    assert sample(metrics, "temporal_activity_execution_latency_count", activity_type="synthesize_draft") == 1
    assert sample(metrics, "researchbot_answer_feedback", rating="positive") == 2
    assert sample(metrics, "researchbot_answer_feedback", rating="negative") == 1
