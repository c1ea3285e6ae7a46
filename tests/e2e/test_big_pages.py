"""Big pages, long snippets and every revision round allowed: each payload in workflow history stays far
under Temporal's 2 MB limit, because page texts live in the archive and history carries excerpts."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from bot.runs import build_request, start_run
from core.settings import MAX_REVISION_ROUNDS, Settings
from researchbot.promotion import promote_own_worker
from researchbot.wiring import build_activities
from researchbot.worker import build_worker
from tests.fakes.search_servers import FakeWeb
from tests.support.versions import deployment_for
from tests.workflows.helpers import decision, wait_for_stage
from workflows.models import Budget, DecisionKind, Outcome, Stage
from workflows.research import ResearchWorkflow

PAYLOAD_LIMIT = 2 * 1024 * 1024  # Temporal's default limit on one payload
WELL_UNDER = PAYLOAD_LIMIT // 8


def results_for(web: FakeWeb):
    def results(query: str) -> list[dict]:
        slug = uuid.uuid5(uuid.NAMESPACE_URL, query).hex[:8]  # new pages for every query
        return [
            {"url": f"{web.url}/pages/big?n={slug}-{i}", "title": "𝔗" * 2_000, "content": "𝔖" * 20_000}
            for i in range(5)
        ]

    return results


async def biggest_event(handle: WorkflowHandle) -> int:
    history = await handle.fetch_history()
    sizes = [len(event.SerializeToString()) for event in history.events]
    kinds = {EventType.Name(event.event_type) for event in history.events}
    assert "EVENT_TYPE_ACTIVITY_TASK_COMPLETED" in kinds
    return max(sizes)


@pytest.mark.slow
async def test_every_payload_stays_small_through_every_revision_round(env: WorkflowEnvironment, tmp_path: Path) -> None:
    with FakeWeb() as web:
        web.searxng_for = results_for(web)
        await revise_every_round_then_approve(env, web, tmp_path)


async def revise_every_round_then_approve(env: WorkflowEnvironment, web: FakeWeb, tmp_path: Path) -> None:
    queue = f"big-{uuid.uuid4().hex[:8]}"
    settings = Settings(
        _env_file=None,
        temporal_address=env.client.service_client.config.target_host,
        research_task_queue=queue,
        worker_deployment_name=deployment_for(queue),
        search_provider=["searxng"],
        searxng_url=f"{web.url}/searxng",
        fetch_allow_private_networks=True,
        database_url=f"sqlite:///{tmp_path}/archive.db",
        max_revision_rounds=MAX_REVISION_ROUNDS,
    )
    request = build_request(settings, "How does durable execution survive crashes?", requested_by="U_ASKER")
    # Continue as new on the way too; the offline model counts every page it reads against the budget.
    request = request.model_copy(update={"history_limit": 400, "budget": Budget(max_total_tokens=10**9)})
    async with build_activities(settings) as activities, build_worker(env.client, settings, activities):
        await promote_own_worker(env.client, settings)
        handle = await start_run(env.client, settings, request, workflow_id=f"big-{uuid.uuid4().hex[:8]}")
        for round_ in range(1, MAX_REVISION_ROUNDS + 1):
            await wait_for_stage(handle, Stage.AWAITING_DECISION, draft_round=round_, tries=1200)
            latest = env.client.get_workflow_handle_for(ResearchWorkflow.run, handle.id)
            feedback = f"add what happens in failure case {round_}: timeouts {round_} and restarts {round_}"
            await latest.execute_update(
                ResearchWorkflow.decide, decision(DecisionKind.REVISE, draft_round=round_, feedback=feedback)
            )
        last = MAX_REVISION_ROUNDS + 1
        status = await wait_for_stage(handle, Stage.AWAITING_DECISION, draft_round=last, tries=1200)
        latest = env.client.get_workflow_handle_for(ResearchWorkflow.run, handle.id)
        await latest.execute_update(
            ResearchWorkflow.decide, decision(DecisionKind.APPROVE, draft_round=last, feedback="one line on cost")
        )
        result = await latest.result()

    assert result.outcome == Outcome.APPROVED and result.revision_rounds == MAX_REVISION_ROUNDS
    assert len(status.sources) > 30  # far more page text than 2 MB, had it travelled in history
    first_run = env.client.get_workflow_handle(handle.id, run_id=handle.result_run_id)
    assert (await latest.describe()).run_id != handle.result_run_id, "the run never continued as new"
    assert await biggest_event(first_run) < WELL_UNDER
    assert await biggest_event(latest) < WELL_UNDER
