"""The embedded Temporal server stopped and started again on its SQLite file: the waiting run survives it.

The worker keeps running through the outage and reconnects by itself; the decision made after the
restart finishes the run, and no step that completed before the outage runs again.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from bot.runs import build_request, start_run
from core.settings import Settings
from researchbot.devserver import embedded_temporal
from tests.e2e.test_worker_kill_matrix import step_starts
from tests.workflows.helpers import decision, wait_for_stage
from workflows.models import DecisionKind, Outcome, Stage
from workflows.research import ResearchWorkflow

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_a_waiting_run_survives_a_temporal_restart(tmp_path: Path) -> None:
    port, ui_port, db = free_port(), free_port(), tmp_path / "temporal.db"
    queue = f"restart-{uuid.uuid4().hex[:8]}"
    worker_env = {
        **os.environ,
        "TEMPORAL_ADDRESS": f"127.0.0.1:{port}",
        "RESEARCH_TASK_QUEUE": queue,
        "DATABASE_URL": f"sqlite:///{tmp_path}/archive.db",
    }
    settings = Settings(research_task_queue=queue)
    worker = subprocess.Popen(
        [sys.executable, "-m", "researchbot", "worker"],
        env=worker_env,
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        async with embedded_temporal(port, ui_port, db) as address:
            client = await Client.connect(address, data_converter=pydantic_data_converter)
            request = build_request(settings, "How does Temporal make workflows durable?", requested_by="U_ASKER")
            handle = await start_run(client, settings, request, workflow_id=queue)
            status = await wait_for_stage(handle, Stage.AWAITING_DECISION, tries=600, every=0.1)

        assert worker.poll() is None, "the worker must ride out the outage"
        async with embedded_temporal(port, ui_port, db) as address:
            client = await Client.connect(address, data_converter=pydantic_data_converter)
            handle = client.get_workflow_handle_for(ResearchWorkflow.run, queue)
            await handle.execute_update("decide", decision(DecisionKind.APPROVE, draft_round=status.draft_round))
            result = await asyncio.wait_for(handle.result(), 60)
            started, completed, completions = step_starts(await handle.fetch_history())
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()

    assert result.outcome == Outcome.APPROVED
    assert set(completions.values()) == {1}
    assert started == completed, "no step ran twice"
