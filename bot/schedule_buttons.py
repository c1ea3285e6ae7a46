"""The buttons of `/research schedules`: Pause, Resume, Run now and Delete on one schedule (bot/schedules.py).

Only the schedule's creator (its memo says who) and RESEARCH_APPROVERS may press them; guests and people
from other organisations only if the workspace lets them decide (bot/decisions.py). The change is made
before the ack, within PRESS_WAIT, and the person is told in one private line what became of it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from typing import Any

import structlog
from temporalio.client import Client, ScheduleDescription, ScheduleHandle
from temporalio.service import RPCError, RPCStatusCode

from bot.decisions import visitor_refusal
from bot.people import People, team_of_clicker
from core.settings import Settings
from slack_ui.ids import MalformedId, field
from slack_ui.mrkdwn import mention
from slack_ui.schedules import SCHEDULE_DELETE, SCHEDULE_PAUSE, SCHEDULE_RESUME, SCHEDULE_RUN_NOW

__all__ = ["PRESS_WAIT", "press"]

log = structlog.get_logger(__name__)

PRESS_WAIT = timedelta(seconds=2.5)  # inside Slack's 3 seconds for the ack
GONE = "That schedule no longer exists; `/research schedules` shows the ones that do."
UNAVAILABLE = (
    "The research service did not answer in time, so the schedule may not have changed. Check `/research schedules`."
)


async def press(
    settings: Settings,
    temporal: Client,
    people: People | None,
    body: Mapping[str, Any],
    action_id: str,
    schedule_id: str,
) -> str:
    """Do what the button says if the presser may, within PRESS_WAIT: one line for the presser alone."""
    user = field(body, "user", "id")
    bound = log.bind(schedule_id=schedule_id, user=user, action=action_id)
    try:
        return await asyncio.wait_for(
            _press(settings, temporal, people, body, user, action_id, schedule_id), PRESS_WAIT.total_seconds()
        )
    except TimeoutError:
        bound.warning("schedule.press_slow")
        return UNAVAILABLE
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            return GONE
        bound.error("schedule.press_failed", error=str(error))
        return UNAVAILABLE


async def _press(
    settings: Settings,
    temporal: Client,
    people: People | None,
    body: Mapping[str, Any],
    user: str,
    action_id: str,
    schedule_id: str,
) -> str:
    handle = temporal.get_schedule_handle(schedule_id)
    description = await handle.describe()
    creator = str((await description.memo()).get("creator") or "")
    if user != creator and user not in settings.research_approvers:
        log.info("schedule.press_refused", schedule_id=schedule_id, user=user)
        return (
            f"Only {mention(creator)}, who made this schedule, and the configured approvers can change it. "
            "Nothing was changed."
        )
    if refusal := await visitor_refusal(settings, schedule_id, user, people, team_of_clicker(body)):
        return refusal
    act = _ACTIONS.get(action_id)
    if act is None:
        raise MalformedId("not a schedule button")
    said = await act(handle, description, user)
    log.info("schedule.pressed", schedule_id=schedule_id, user=user, action=action_id)
    return said


async def _pause(handle: ScheduleHandle, description: ScheduleDescription, user: str) -> str:
    if description.schedule.state.paused:
        return "That schedule is already paused."
    await handle.pause(note=f"paused by {user} from Slack")
    return "⏸ Paused: no run starts until someone presses Resume."


async def _resume(handle: ScheduleHandle, description: ScheduleDescription, user: str) -> str:
    if not description.schedule.state.paused:
        return "That schedule is already running."
    await handle.unpause(note=f"resumed by {user} from Slack")
    return "▶️ Resumed: the next run starts at its time; runs missed while paused are not made up."


async def _run_now(handle: ScheduleHandle, description: ScheduleDescription, user: str) -> str:
    if description.info.running_actions:
        return "Its last run is still going (perhaps waiting for review), so no other was started: one at a time."
    await handle.trigger()
    return "🔎 Started a run now: it posts in this channel. The schedule's next runs are unchanged."


async def _delete(handle: ScheduleHandle, description: ScheduleDescription, user: str) -> str:
    await handle.delete()
    return "🗑 Deleted: no more runs start. A run already under way goes on."


_ACTIONS: dict[str, Callable[[ScheduleHandle, ScheduleDescription, str], Awaitable[str]]] = {
    SCHEDULE_PAUSE: _pause,
    SCHEDULE_RESUME: _resume,
    SCHEDULE_RUN_NOW: _run_now,
    SCHEDULE_DELETE: _delete,
}
