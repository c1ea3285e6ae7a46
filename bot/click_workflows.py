"""Starting the short workflow a click asks for (an export, a rating), inside Slack's 3 seconds.

The workflow's id comes from the click: a click Slack delivers twice finds the running one
(USE_EXISTING) or the finished one (REJECT_DUPLICATE), so it runs once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy

__all__ = ["start_once"]


async def start_once(
    temporal: Client,
    run: Callable[[Any, Any], Awaitable[Any]],
    arg: Any,
    *,
    id: str,
    task_queue: str,
    within: timedelta,
) -> None:
    """Start ``run(arg)`` as workflow ``id`` unless a click already did. Raises what the start raised,
    or TimeoutError when Temporal did not answer ``within``."""
    await asyncio.wait_for(
        temporal.start_workflow(
            run,
            arg,
            id=id,
            task_queue=task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        ),
        within.total_seconds(),
    )
