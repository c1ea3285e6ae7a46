"""The embedded Temporal server stopped and started again on its SQLite file: the waiting run survives it.

The worker keeps running through the outage and reconnects by itself. A decision made after the restart,
or one whose update was on the wire when the server went down (and is sent again, as a person would
click again), finishes the run, applied once; no step that completed before the outage runs again.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from bot.runs import build_request, send_answer, start_run
from core.settings import Settings
from researchbot.devserver import embedded_temporal
from tests.e2e.test_worker_kill_matrix import step_starts
from tests.e2e.test_worker_kill_matrix import worker as worker_process
from tests.support.ports import free_port
from tests.support.versions import promote_queue, versioned_env
from tests.workflows.helpers import decision, wait_for_stage
from workflows.models import DecisionKind, Outcome, Stage
from workflows.research import ResearchWorkflow

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("in_flight", [False, True], ids=["parked", "update-in-flight"])
async def test_a_waiting_run_survives_a_temporal_restart(tmp_path: Path, in_flight: bool) -> None:
    port, ui_port, db = free_port(), free_port(), tmp_path / "temporal.db"
    queue = f"restart-{uuid.uuid4().hex[:8]}"
    worker_env = {
        **os.environ,
        "TEMPORAL_ADDRESS": f"127.0.0.1:{port}",
        "RESEARCH_TASK_QUEUE": queue,
        "DATABASE_URL": f"sqlite:///{tmp_path}/archive.db",
        **versioned_env(queue),
    }
    settings = Settings(research_task_queue=queue)
    with worker_process(worker_env) as worker:
        async with embedded_temporal(port, ui_port, db) as address:
            client = await Client.connect(address, data_converter=pydantic_data_converter)
            await promote_queue(client, queue)  # kept in the server's SQLite file through the restart
            request = build_request(settings, "How does Temporal make workflows durable?", requested_by="U_ASKER")
            handle = await start_run(client, settings, request, workflow_id=queue)
            status = await wait_for_stage(handle, Stage.AWAITING_DECISION, tries=600, every=0.1)
            click = decision(DecisionKind.APPROVE, draft_round=status.draft_round)
            # The server goes down with the click's update (or its signal fallback) on the wire.
            sent = asyncio.create_task(send_answer(client, queue, click)) if in_flight else None
            await asyncio.sleep(0.05)
        first_try = await sent if sent else None

        assert worker.poll() is None, "the worker must ride out the outage"
        async with embedded_temporal(port, ui_port, db) as address:
            client = await Client.connect(address, data_converter=pydantic_data_converter)
            handle = client.get_workflow_handle_for(ResearchWorkflow.run, queue)
            # Whatever the first try came to, the person who was not told "recorded" clicks again: the same
            # click (one decision_id), so it applies once however many times it arrives.
            if first_try is None or not first_try.accepted or first_try.queued:
                await send_answer(client, queue, click)
            result = await asyncio.wait_for(handle.result(), 60)
            started, completed, completions = step_starts(await handle.fetch_history())

    assert result.outcome == Outcome.APPROVED
    assert len([d for d in result.decisions if d.applied]) == 1, "the decision applied exactly once"
    assert set(completions.values()) == {1}
    assert started == completed, "no step ran twice"
