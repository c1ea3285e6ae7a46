"""Record the committed workflow histories that the replay test guards.

Run after a deliberate change to workflow code:  python -m tests.workflows.record_histories
A change that is not deliberate shows up as a replay failure in tests/test_replay.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

from temporalio.client import Client, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from tests.conftest import TEMPORAL_CLI
from tests.fakes.activities import FakeActivities
from tests.workflows.helpers import decision, fake_worker, new_queue, start_run, wait_for_stage
from workflows.models import DecisionKind, Stage
from workflows.research import ResearchWorkflow

HISTORIES = Path(__file__).parent / "histories"
Scenario = Callable[[WorkflowHandle, FakeActivities], Awaitable[None]]


async def approve(handle: WorkflowHandle, fakes: FakeActivities) -> None:
    await wait_for_stage(handle, Stage.AWAITING_DECISION)
    await handle.execute_update(ResearchWorkflow.decide, decision(DecisionKind.APPROVE))


async def approve_with_feedback(handle: WorkflowHandle, fakes: FakeActivities) -> None:
    await wait_for_stage(handle, Stage.AWAITING_DECISION)
    await handle.execute_update(ResearchWorkflow.decide, decision(DecisionKind.APPROVE, feedback="mention costs"))


async def revise_then_approve(handle: WorkflowHandle, fakes: FakeActivities) -> None:
    await wait_for_stage(handle, Stage.AWAITING_DECISION)
    await handle.execute_update(ResearchWorkflow.decide, decision(DecisionKind.REVISE, feedback="add critics"))
    await wait_for_stage(handle, Stage.AWAITING_DECISION, draft_round=2)
    await handle.signal(ResearchWorkflow.decide_signal, decision(DecisionKind.APPROVE, draft_round=2))


async def guardrails_then_reject(handle: WorkflowHandle, fakes: FakeActivities) -> None:
    await wait_for_stage(handle, Stage.AWAITING_DECISION)
    await handle.execute_update(ResearchWorkflow.decide, decision(DecisionKind.REJECT))


SCENARIOS: dict[str, Scenario] = {
    "approve": approve,
    "approve_with_feedback": approve_with_feedback,
    "revise_then_approve": revise_then_approve,
    "guardrails_then_reject": guardrails_then_reject,
}


async def record(client: Client) -> None:
    for name, scenario in SCENARIOS.items():
        fakes, queue = FakeActivities(), new_queue()
        if name == "guardrails_then_reject":
            fakes.drafts = ["Bad citation [9].", "Better [1] and [2]."]
        async with fake_worker(client, queue, fakes):
            handle = await start_run(client, queue)
            await scenario(handle, fakes)
            await handle.result()
        history = await handle.fetch_history()
        (HISTORIES / f"{name}.json").write_text(history.to_json())
        print(f"recorded {name}: {len(history.events)} events")


async def main() -> None:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(TEMPORAL_CLI), data_converter=pydantic_data_converter, ui=False
    )
    async with env:
        await record(env.client)


if __name__ == "__main__":
    asyncio.run(main())
