"""Worker Deployment Versioning on the real dev server (docs/versioning.md): a worker serves one version, an
operator's promotion makes it current, and a run waiting for a person moves to the version promoted next."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

from temporalio.api.enums.v1 import EventType
from temporalio.api.enums.v1 import VersioningBehavior as BehaviorProto
from temporalio.client import Client, WorkflowHandle
from temporalio.common import VersioningBehavior
from temporalio.testing import WorkflowEnvironment
from temporalio.workflow import _Definition

from bot.runs import build_request, start_run
from core.settings import Settings
from researchbot.promotion import promote_own_worker
from researchbot.wiring import build_activities
from researchbot.worker import build_worker, deployment_config
from tests.support.versions import deployment_for
from tests.workflows.helpers import decision, wait_for_stage
from workflows.models import DecisionKind, Outcome, ResearchResult, Stage
from workflows.ratings import RatingWorkflow
from workflows.research import ResearchWorkflow

REPO = Path(__file__).resolve().parents[2]


def versioned_settings(queue: str, build_id: str, data: Path) -> Settings:
    """An offline worker's settings, versioned as deployed; the deployment is the test's own."""
    return Settings(
        _env_file=None,
        research_task_queue=queue,
        research_corpus_dir=REPO / "tests" / "data" / "corpus",
        database_url=f"sqlite:///{data}/archive.db",
        worker_versioning=True,
        worker_deployment_name=deployment_for(queue),
        worker_build_id=build_id,
    )


@asynccontextmanager
async def worker_of(client: Client, settings: Settings) -> AsyncIterator[None]:
    async with AsyncExitStack() as stack:
        activities = await stack.enter_async_context(build_activities(settings))
        await stack.enter_async_context(build_worker(client, settings, activities))
        yield


async def ask(client: Client, settings: Settings) -> WorkflowHandle[ResearchWorkflow, ResearchResult]:
    request = build_request(settings, "How does Temporal make workflows durable?", requested_by="U_ASKER")
    return await start_run(client, settings, request, workflow_id=f"versioned-{uuid.uuid4().hex[:10]}")


async def version_of(handle: WorkflowHandle[ResearchWorkflow, ResearchResult]) -> tuple[str, str, int]:
    """(deployment name, build id, behaviour) as Temporal records the run's versioning."""
    info = (await handle.describe()).raw_description.workflow_execution_info.versioning_info
    return info.deployment_version.deployment_name, info.deployment_version.build_id, info.behavior


async def task_build_ids(handle: WorkflowHandle[ResearchWorkflow, ResearchResult]) -> list[str]:
    """The build id of the worker that completed each workflow task, in order."""
    history = await handle.fetch_history()
    return [
        event.workflow_task_completed_event_attributes.deployment_version.build_id
        for event in history.events
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
    ]


def test_the_worker_gives_both_workflows_auto_upgrade() -> None:
    """The behaviour comes from the versioned worker, not from `@workflow.defn`: Temporal refuses a workflow
    task that names a behaviour from an unversioned worker, and unversioned workers run these workflows too
    (WORKER_VERSIONING=off, the workflow tests' workers)."""
    config = deployment_config(Settings(_env_file=None, worker_versioning=True))
    assert config is not None and config.use_worker_versioning
    assert config.default_versioning_behavior == VersioningBehavior.AUTO_UPGRADE
    for workflow_class in (ResearchWorkflow, RatingWorkflow):
        assert _Definition.must_from_class(workflow_class).versioning_behavior in (None, VersioningBehavior.UNSPECIFIED)
    assert deployment_config(Settings(_env_file=None, worker_versioning=False)) is None


async def test_a_promoted_worker_runs_a_research_run_on_its_version(env: WorkflowEnvironment, tmp_path: Path) -> None:
    queue = f"versioned-{uuid.uuid4().hex[:8]}"
    settings = versioned_settings(queue, "v1", tmp_path)
    async with worker_of(env.client, settings):
        promoted = await promote_own_worker(env.client, settings)
        assert promoted is not None and promoted.previous_build_id is None and promoted.changed
        again = await promote_own_worker(env.client, settings)
        assert again is not None and not again.changed, "promoting the current version again changes nothing"

        handle = await ask(env.client, settings)
        status = await wait_for_stage(handle, Stage.AWAITING_DECISION, tries=1200)
        await handle.execute_update(ResearchWorkflow.decide, decision(DecisionKind.APPROVE, status.draft_round))
        assert (await handle.result()).outcome == Outcome.APPROVED

    assert await version_of(handle) == (deployment_for(queue), "v1", BehaviorProto.VERSIONING_BEHAVIOR_AUTO_UPGRADE)
    assert set(await task_build_ids(handle)) == {"v1"}


async def test_a_waiting_run_moves_to_the_version_promoted_next(env: WorkflowEnvironment, tmp_path: Path) -> None:
    queue = f"versioned-{uuid.uuid4().hex[:8]}"
    old, new = versioned_settings(queue, "v1", tmp_path), versioned_settings(queue, "v2", tmp_path)
    async with worker_of(env.client, old):
        await promote_own_worker(env.client, old)
        handle = await ask(env.client, old)
        status = await wait_for_stage(handle, Stage.AWAITING_DECISION, tries=1200)
        assert (await version_of(handle))[1] == "v1"

        # A rolling deploy: the new version's workers start beside the old ones, then it is promoted.
        async with worker_of(env.client, new):
            promoted = await promote_own_worker(env.client, new)
            assert promoted is not None and promoted.previous_build_id == "v1"
            await handle.execute_update(ResearchWorkflow.decide, decision(DecisionKind.APPROVE, status.draft_round))
            assert (await handle.result()).outcome == Outcome.APPROVED

    assert await version_of(handle) == (deployment_for(queue), "v2", BehaviorProto.VERSIONING_BEHAVIOR_AUTO_UPGRADE)
    build_ids = await task_build_ids(handle)
    moved = build_ids.index("v2")
    assert moved > 0 and set(build_ids[:moved]) == {"v1"} and set(build_ids[moved:]) == {"v2"}, build_ids
