"""`researchbot promote` and `researchbot worker --promote` as an operator runs them, on the session's Temporal."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from researchbot.promotion import current_build_id
from tests.researchbot.test_cli import RESEARCHBOT, offline_env, researchbot
from tests.support.versions import deployment_for, versioned_env


def operator_env(env: WorkflowEnvironment, tmp_path: Path, build_id: str) -> dict[str, str]:
    queue = f"promote-{uuid.uuid4().hex[:8]}"
    address = env.client.service_client.config.target_host
    return offline_env(
        tmp_path, TEMPORAL_ADDRESS=address, RESEARCH_TASK_QUEUE=queue, WORKER_BUILD_ID=build_id, **versioned_env(queue)
    )


@contextmanager
def worker(settings: dict[str, str], cwd: Path, *args: str) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(
        [*RESEARCHBOT, "worker", *args], env=settings, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        finally:
            process.kill()


async def test_promote_makes_the_running_workers_version_current_once(env: WorkflowEnvironment, tmp_path: Path) -> None:
    settings = operator_env(env, tmp_path, "build-1")
    version = f"{settings['WORKER_DEPLOYMENT_NAME']}.build-1"
    with worker(settings, tmp_path):
        first = researchbot(["promote"], settings, cwd=tmp_path)
        assert first.returncode == 0, first.stderr
        assert first.stdout.strip() == f"{version} is current (was none); runs in flight move to it"
        again = researchbot(["promote"], settings, cwd=tmp_path)
        assert again.returncode == 0 and again.stdout.strip() == f"{version} was already current", again.stderr
    assert await current_build_id(env.client, settings["WORKER_DEPLOYMENT_NAME"]) == ("build-1", True)


async def test_promote_without_workers_of_that_version_fails_in_one_line(
    env: WorkflowEnvironment, tmp_path: Path
) -> None:
    settings = operator_env(env, tmp_path, "build-1")
    with worker(settings, tmp_path):
        done = researchbot(["promote", "--build-id", "never-deployed", "--within", "2"], settings, cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert (
        done.stderr.strip()
        .splitlines()[-1]
        .startswith(f"error: cannot promote {settings['WORKER_DEPLOYMENT_NAME']}.never-deployed within 2s")
    )


async def test_a_worker_started_with_promote_makes_its_own_version_current(
    env: WorkflowEnvironment, tmp_path: Path
) -> None:
    settings = operator_env(env, tmp_path, "build-2")
    deployment = deployment_for(settings["RESEARCH_TASK_QUEUE"])

    async def current() -> str | None:
        try:
            return (await current_build_id(env.client, deployment))[0]
        except RPCError:  # no worker of the deployment has polled yet
            return None

    with worker(settings, tmp_path, "--promote"):
        for _ in range(600):  # a generous bound for a loaded machine, not a timing assertion
            if await current() == "build-2":
                break
            await asyncio.sleep(0.1)
    assert await current() == "build-2"
