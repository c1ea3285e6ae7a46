"""`researchbot demo` as a smoke test: the whole product, driven through the sandbox, prints its thread."""

from __future__ import annotations

from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from tests.researchbot.test_cli import offline_env, researchbot


def test_demo_drives_one_run_from_command_to_final_report(env: WorkflowEnvironment, tmp_path: Path) -> None:
    address = env.client.service_client.config.target_host
    done = researchbot(
        ["demo", "What are Slack Block Kit limits?"],
        # The shipped default corpus (corpus/): the demo must find its answer there, as the README promises.
        offline_env(tmp_path, corpus=None, TEMPORAL_ADDRESS=address),
        cwd=tmp_path,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    thread = done.stdout
    assert "Draft 1 for review" in thread
    assert "Approved by" in thread
    assert "Research report" in thread and "Reviewer feedback taken into account: Add a one-line summary" in thread
    assert thread.index("Draft 1 for review") < thread.index("Research report")
