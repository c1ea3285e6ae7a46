"""The archive's database goes away while a run is being stored: the run waits, then completes once."""

from __future__ import annotations

import asyncio

import psycopg
import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.archive.store import ArchiveStore, StoreActivities
from tests.fakes.activities import FakeActivities
from tests.fakes.slow_proxy import SlowProxy
from tests.workflows.helpers import decision, new_queue, start_run, wait_for_stage
from workflows.models import DecisionKind, Stage
from workflows.research import ResearchWorkflow

OUTAGE_SECONDS = 5  # long enough for several store attempts to fail


@pytest.mark.slow
async def test_a_database_outage_while_storing_delays_the_run_and_stores_it_once(
    env: WorkflowEnvironment, postgres_url: str
) -> None:
    async with SlowProxy("127.0.0.1", 5432) as proxy:
        store = ArchiveStore(postgres_url.replace("127.0.0.1:5432", proxy.address))
        await asyncio.to_thread(store.migrate)  # the proxy runs in this event loop
        fakes, queue = FakeActivities(), new_queue()
        activities = [a for a in fakes.all() if a.__name__ != "store_result"] + [StoreActivities(store).store_result]
        try:
            async with Worker(env.client, task_queue=queue, workflows=[ResearchWorkflow], activities=activities):
                handle = await start_run(env.client, queue)
                await wait_for_stage(handle, Stage.AWAITING_DECISION)
                proxy.cut()
                await handle.execute_update(ResearchWorkflow.decide, decision(DecisionKind.APPROVE))
                await asyncio.sleep(OUTAGE_SECONDS)
                attempts = (await handle.describe()).raw_description.pending_activities
                assert attempts and attempts[0].activity_type.name == "store_result"
                assert attempts[0].attempt >= 2  # failed and retried, not given up
                proxy.restore()
                result = await asyncio.wait_for(handle.result(), 60)
        finally:
            store.dispose()

    with psycopg.connect(postgres_url) as connection:
        rows = connection.execute("SELECT outcome FROM research_runs WHERE workflow_id = %s", [result.workflow_id])
        assert [row[0] for row in rows] == ["approved"]
