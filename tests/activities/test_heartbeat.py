"""An attempt Temporal takes away is logged with why: a timeout on a live worker means it was too busy to
heartbeat, and the attempt's work is done again."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
import structlog
from temporalio import activity
from temporalio.activity import ActivityCancellationDetails
from temporalio.testing import ActivityEnvironment

from activities.heartbeat import heartbeating


@activity.defn(name="slow_step")
async def slow_step() -> None:
    async with heartbeating(every=0.01):
        await asyncio.sleep(60)


async def test_a_timed_out_attempt_is_logged_with_its_reason() -> None:
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, activity_type="slow_step", attempt=3)
    running = asyncio.create_task(env.run(slow_step))
    await asyncio.sleep(0.05)
    with structlog.testing.capture_logs() as logs:
        env.cancel(ActivityCancellationDetails(timed_out=True))
        with pytest.raises(asyncio.CancelledError):
            await running
    [line] = [entry for entry in logs if entry["event"] == "activity.cancelled"]
    assert (line["activity"], line["attempt"], line["why"]) == ("slow_step", 3, "timed_out")
    assert line["log_level"] == "warning"
