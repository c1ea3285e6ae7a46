"""Making a worker version current: what `temporal worker deployment set-current-version` does, and a bit more.

A versioned worker gets no workflow tasks until its version is current: until then Temporal routes them
to unversioned workers. Promotion makes the version current and waits until the task queues route to
it, so whoever promotes may start runs at once. It is idempotent: promoting the current version again
changes nothing. `researchbot promote` is this for an operator; `researchbot dev`, `demo` and `ask`, and
the tests' stacks, promote the worker they start the same way (docs/versioning.md).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from temporalio.api.deployment.v1 import WorkerDeploymentVersion as VersionProto
from temporalio.api.enums.v1 import RoutingConfigUpdateState, TaskQueueType
from temporalio.api.workflowservice.v1 import (
    DescribeWorkerDeploymentRequest,
    DescribeWorkerDeploymentVersionRequest,
    SetWorkerDeploymentCurrentVersionRequest,
)
from temporalio.client import Client
from temporalio.common import WorkerDeploymentVersion
from temporalio.service import RPCError, RPCStatusCode

from core.errors import ConfigError
from core.settings import Settings

# A version exists only once one of its workers has polled; polling starts a moment after the worker.
PROMOTE_WITHIN_SECONDS = 60.0
RETRY_EVERY_SECONDS = 0.2
# Not found yet, a task queue not yet registered, a concurrent change to the deployment, a busy server.
_TRANSIENT = frozenset(
    {
        RPCStatusCode.NOT_FOUND,
        RPCStatusCode.FAILED_PRECONDITION,
        RPCStatusCode.ABORTED,
        RPCStatusCode.UNAVAILABLE,
        RPCStatusCode.RESOURCE_EXHAUSTED,
        RPCStatusCode.DEADLINE_EXCEEDED,
    }
)
IDENTITY = "researchbot promote"


@dataclass(frozen=True)
class Promoted:
    version: WorkerDeploymentVersion
    previous_build_id: str | None  # None: no version was current before

    @property
    def changed(self) -> bool:
        return self.previous_build_id != self.version.build_id


def worker_version(settings: Settings) -> WorkerDeploymentVersion:
    """The version this process's workers serve (WORKER_DEPLOYMENT_NAME, WORKER_BUILD_ID)."""
    return WorkerDeploymentVersion(settings.worker_deployment_name, settings.worker_build_id)


async def promote_own_worker(client: Client, settings: Settings) -> Promoted | None:
    """Promote the version of the worker this process just started; nothing if versioning is off."""
    if not settings.worker_versioning:
        return None
    return await promote(client, worker_version(settings), settings.research_task_queue)


async def promote(
    client: Client,
    version: WorkerDeploymentVersion,
    task_queue: str,
    *,
    within: float = PROMOTE_WITHIN_SECONDS,
    identity: str = IDENTITY,
) -> Promoted:
    """Make ``version`` current once its workers poll ``task_queue``; raise ConfigError after ``within`` s."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    problem = f"no worker of {version.to_canonical_string()} polls task queue {task_queue!r}"
    while True:
        try:
            if await polls(client, version, task_queue):
                previous = await set_current(client, version, identity)
                if await routes_to(client, version):
                    return Promoted(version, previous)
                problem = "the deployment's task queues are still being switched to it"
        except RPCError as error:
            if error.status not in _TRANSIENT:
                raise ConfigError(f"cannot promote {version.to_canonical_string()}: {error.message}") from error
            problem = error.message
        if loop.time() > deadline:
            raise ConfigError(
                f"cannot promote {version.to_canonical_string()} within {within:.0f}s: {problem}. Start its "
                "workers (WORKER_DEPLOYMENT_NAME, WORKER_BUILD_ID) before promoting it"
            )
        await asyncio.sleep(RETRY_EVERY_SECONDS)


def _proto(version: WorkerDeploymentVersion) -> VersionProto:
    return VersionProto(deployment_name=version.deployment_name, build_id=version.build_id)


async def polls(client: Client, version: WorkerDeploymentVersion, task_queue: str) -> bool:
    """Whether a worker of ``version`` has polled ``task_queue`` for workflow tasks (the version knows it)."""
    response = await client.workflow_service.describe_worker_deployment_version(
        DescribeWorkerDeploymentVersionRequest(namespace=client.namespace, deployment_version=_proto(version))
    )
    return any(
        queue.name == task_queue and queue.type == TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW
        for queue in response.worker_deployment_version_info.task_queue_infos
    )


async def set_current(client: Client, version: WorkerDeploymentVersion, identity: str) -> str | None:
    """Set ``version`` current; the build id that was current before, if any."""
    response = await client.workflow_service.set_worker_deployment_current_version(
        SetWorkerDeploymentCurrentVersionRequest(
            namespace=client.namespace,
            deployment_name=version.deployment_name,
            build_id=version.build_id,
            identity=identity,
            # polls() checked the one queue ResearchBot serves; a queue only an old version knew (a demo's,
            # a test's) must not block the promotion.
            ignore_missing_task_queues=True,
        )
    )
    return response.previous_deployment_version.build_id or None


async def current_build_id(client: Client, deployment_name: str) -> tuple[str | None, bool]:
    """The deployment's current build id (None: unversioned or none yet), and whether its task queues
    all route to it already."""
    response = await client.workflow_service.describe_worker_deployment(
        DescribeWorkerDeploymentRequest(namespace=client.namespace, deployment_name=deployment_name)
    )
    info = response.worker_deployment_info
    switching = info.routing_config_update_state == RoutingConfigUpdateState.ROUTING_CONFIG_UPDATE_STATE_IN_PROGRESS
    return info.routing_config.current_deployment_version.build_id or None, not switching


async def routes_to(client: Client, version: WorkerDeploymentVersion) -> bool:
    build_id, settled = await current_build_id(client, version.deployment_name)
    return build_id == version.build_id and settled
