"""Workers in tests run versioned, as deployed (docs/versioning.md), and are promoted as an operator would.

Each task queue gets a deployment of its own: one queue per deployment is a production deployment's
shape, and a test that promotes its version moves no other test's runs on the session's Temporal.
"""

from __future__ import annotations

from temporalio.client import Client
from temporalio.common import WorkerDeploymentVersion

from core.build_id import default_build_id
from researchbot.promotion import Promoted, promote

__all__ = ["deployment_for", "promote_queue", "versioned_env"]


def deployment_for(queue: str) -> str:
    return f"researchbot-{queue}"


def versioned_env(queue: str) -> dict[str, str]:
    """The settings that make a `researchbot worker` on ``queue`` serve this checkout's version of its deployment."""
    return {"WORKER_VERSIONING": "on", "WORKER_DEPLOYMENT_NAME": deployment_for(queue)}


async def promote_queue(client: Client, queue: str, build_id: str | None = None) -> Promoted:
    """Make the version of the workers on ``queue`` current, once they poll (as `researchbot promote` does)."""
    version = WorkerDeploymentVersion(deployment_for(queue), build_id or default_build_id())
    return await promote(client, version, queue)
