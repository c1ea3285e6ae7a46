"""Research on a schedule: `/research every monday 09:00 <question>` makes a Temporal Schedule whose action
starts ResearchWorkflow in that channel, with the same request a /research would build (bot/runs.py).

- Id: ``schedule-<team>-<channel>-<digest of the words>``, so a command Slack delivers twice makes one
  schedule. Its runs' ids are ``research-<team>-<creator>-<channel>-<digest>`` plus the time Temporal
  appends to each (slack_ui/ids.py reads both), so each run is distinct and clicks know who asked.
- Policies: a run that would start while the last one still runs (say, waits for review) is skipped;
  after an outage one missed run is caught up within RESEARCH_SCHEDULE_CATCHUP_WINDOW.
- Caps (bot/caps.py): only someone who may ask may make a schedule (allowlists, guests, external users).
  Temporal starts each run directly, so the counting caps (in flight, per hour, daily tokens) are not
  checked as a scheduled run starts; the overlap policy bounds a schedule to one run at a time.
- Memo: channel, creator, question, the words, time zone, --publish: what `/research schedules` shows.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleDescription,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleState,
)
from temporalio.service import RPCError, RPCStatusCode

from bot import caps
from bot.arrival import seconds_since_arrival
from bot.people import People
from bot.runs import build_request
from bot.schedule_phrases import Phrase, PhraseError, parse_schedule, split_flags, zone_or_default
from bot.start_in_time import MIN_START_WAIT, START_DEADLINE, START_WAIT, Reply, Start
from bot.under_way import UnderWay
from core.settings import Settings
from slack_ui.ids import MAX_SLACK_ID, MalformedId, slack_id
from slack_ui.mrkdwn import safe
from slack_ui.schedules import ScheduleEntry, local_time, schedule_list_message
from workflows.models import ScheduleRef, SlackContext
from workflows.research import ResearchWorkflow

__all__ = ["LIST_WAIT", "channel_schedules", "create_schedule", "entry_of", "schedule_id_for"]

log = structlog.get_logger(__name__)

LIST_WAIT = timedelta(seconds=2)
UNAVAILABLE = "Sorry, the research service is unavailable right now, so no schedule was made. Try again in a minute."
QUEUED = "⏳ Queued: the research service is slow; I'll tell you here when your schedule is made."
SLOW = (
    "The research service is still slow to answer. Check `/research schedules` in a minute; "
    "if yours is not there, ask again."
)
LIST_UNAVAILABLE = "Sorry, the research service is unavailable right now, so I can't list the schedules."


def schedule_id_for(team: str, channel: str, words: str) -> str:
    """The same words in the same channel name the same schedule (Slack's retries make one)."""
    team, channel = slack_id(team), slack_id(channel)
    if max(len(team), len(channel)) > MAX_SLACK_ID:
        raise MalformedId(f"a team or channel id longer than {MAX_SLACK_ID} characters")
    digest = hashlib.sha256(" ".join(words.lower().split()).encode()).hexdigest()[:16]
    return f"schedule-{team}-{channel}-{digest}"


async def create_schedule(
    settings: Settings,
    temporal: Client,
    command: Mapping[str, Any],
    text: str,
    under_way: UnderWay,
    people: People | None = None,
    now: datetime | None = None,
) -> Start:
    """Read the words, check the asker may ask, make the schedule: ack with what was made (durable: Temporal
    has it), queued (still being made, told later), or why not."""
    slack = SlackContext(
        channel_id=str(command.get("channel_id") or ""),
        user_id=str(command.get("user_id") or ""),
        team_id=command.get("team_id"),
    )
    schedule_id = schedule_id_for(str(slack.team_id), slack.channel_id, text)
    flags, words = split_flags(text)
    person = await people.person(slack.user_id) if people is not None else None
    time_zone = zone_or_default(person.tz if person else None)
    try:
        phrase = parse_schedule(words, time_zone, now or datetime.now(UTC))
    except PhraseError as refused:
        return Start(ack={"text": str(refused)}, refused=True)
    run_id = _run_id(slack, schedule_id)
    # A schedule is a standing permission to spend: who may ask is checked now; the counts apply to runs asked.
    who = settings.model_copy(
        update={"research_max_runs_in_flight": 0, "research_max_runs_per_hour": 0, "research_workspace_daily_tokens": 0}
    )
    if refused := await caps.refusal(who, temporal, slack, run_id, people=people):
        caps.count_refused(temporal, refused.cap)
        return Start(ack={"text": refused.text}, refused=True)
    review_plan = True if "--review-plan" in flags else False if "--no-review-plan" in flags else None
    request = build_request(settings, phrase.question, slack.user_id, slack, review_plan).model_copy(
        update={"schedule": ScheduleRef(schedule_id=schedule_id), "publish_when_verified": "--publish" in flags}
    )
    schedule = Schedule(
        action=ScheduleActionStartWorkflow(
            ResearchWorkflow.run, request, id=run_id, task_queue=settings.research_task_queue
        ),
        spec=phrase.spec,
        policy=SchedulePolicy(
            overlap=ScheduleOverlapPolicy.SKIP, catchup_window=settings.research_schedule_catchup_window
        ),
        state=ScheduleState(note=f"made by {slack.user_id} from Slack"),
    )
    memo = {
        "channel": slack.channel_id,
        "creator": slack.user_id,
        "question": phrase.question,
        "phrase": words,
        "says": phrase.says,
        "time_zone": time_zone,
        "time_zone_is_theirs": bool(person and person.tz == time_zone),
        "publish": "--publish" in flags,
    }
    made = asyncio.ensure_future(_create(temporal, schedule_id, schedule, memo, phrase))
    deadline = max(MIN_START_WAIT, START_DEADLINE.total_seconds() - seconds_since_arrival())
    done, _ = await asyncio.wait({made}, timeout=deadline)
    if done:
        return Start(ack=made.result())
    log.warning("schedule.create_queued", schedule_id=schedule_id, user=slack.user_id)
    under_way.hold(made)
    return Start(ack={"text": QUEUED}, later=made)


def _run_id(slack: SlackContext, schedule_id: str) -> str:
    """The id each run starts under, before Temporal appends its time: the shape of any run's id."""
    team, user, channel = (slack_id(v) for v in (slack.team_id, slack.user_id, slack.channel_id))
    digest = hashlib.sha256(f"{team}:schedule:{schedule_id}".encode()).hexdigest()[:20]
    return f"research-{team}-{user}-{channel}-{digest}"


async def _create(
    temporal: Client, schedule_id: str, schedule: Schedule, memo: dict[str, Any], phrase: Phrase
) -> Reply:
    bound = log.bind(schedule_id=schedule_id, user=memo["creator"])
    try:
        handle = await asyncio.wait_for(
            temporal.create_schedule(schedule_id, schedule, memo=memo), START_WAIT.total_seconds()
        )
    except ScheduleAlreadyRunningError:
        bound.info("schedule.exists")
        return {"text": f"That schedule is already set in this channel ({safe(phrase.says)}). {_LISTED}"}
    except TimeoutError:
        bound.warning("schedule.create_slow")
        return {"text": SLOW}
    except RPCError as error:
        if error.status == RPCStatusCode.INVALID_ARGUMENT:  # Temporal's own check of a cron expression
            bound.info("schedule.refused_by_temporal", error=error.message)
            return {"text": f"Temporal refused that schedule: {error.message}. Nothing was made."}
        bound.error("schedule.create_failed", error=str(error))
        return {"text": UNAVAILABLE}
    bound.info("schedule.created", says=phrase.says)
    try:
        description = await handle.describe(rpc_timeout=LIST_WAIT)
        entry = await entry_of(description)
        upcoming = f" The first run: {local_time(entry.next_run, entry.time_zone)}." if entry.next_run else ""
    except Exception as error:  # made all the same: only the first run's time is not said
        bound.warning("schedule.describe_failed", error=str(error) or repr(error))
        upcoming = ""
    zone = "your time zone" if memo["time_zone_is_theirs"] else "the workspace default: Slack gave no time zone for you"
    publish = (
        "publishes its report directly when every claim is verified, and asks for review otherwise"
        if memo["publish"]
        else "posts a draft for review"
    )
    text = (
        f"📅 Scheduled {safe(phrase.says)} ({memo['time_zone']}, {zone}) in this channel: "
        f"“{safe(phrase.question, 300)}”. Each run {publish}; a run is skipped while the last one is still "
        f"running.{upcoming} {_LISTED}"
    )
    return {"text": text}


_LISTED = "`/research schedules` lists this channel's schedules, with Pause, Resume, Run now and Delete."


async def channel_schedules(temporal: Client, command: Mapping[str, Any]) -> Reply:
    """The channel's schedules, each with its next run and its buttons (slack_ui/schedules.py)."""
    prefix = f"schedule-{slack_id(command.get('team_id'))}-{slack_id(command.get('channel_id'))}-"
    try:
        found = [
            listed.id
            async for listed in await temporal.list_schedules(
                f"ScheduleId STARTS_WITH '{prefix}'", rpc_timeout=LIST_WAIT
            )
        ]
        descriptions = await asyncio.gather(
            *(temporal.get_schedule_handle(i).describe(rpc_timeout=LIST_WAIT) for i in found), return_exceptions=True
        )
        entries = [await entry_of(d) for d in descriptions if isinstance(d, ScheduleDescription)]
    except Exception:
        log.exception("schedule.list_failed", channel=command.get("channel_id"))
        return {"text": LIST_UNAVAILABLE}
    return dict(
        schedule_list_message(sorted(entries, key=lambda e: (e.paused, e.next_run or datetime.max.replace(tzinfo=UTC))))
    )


async def entry_of(description: ScheduleDescription) -> ScheduleEntry:
    memo = await description.memo()
    time_zone = zone_or_default(str(memo.get("time_zone") or ""))
    upcoming = description.info.next_action_times
    return ScheduleEntry(
        schedule_id=description.id,
        says=str(memo.get("says") or memo.get("phrase") or "?"),
        question=str(memo.get("question") or "?"),
        creator=str(memo.get("creator") or "?"),
        time_zone=time_zone,
        paused=description.schedule.state.paused,
        next_run=upcoming[0] if upcoming else None,
        publish=bool(memo.get("publish")),
    )
