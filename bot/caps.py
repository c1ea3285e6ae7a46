"""Caps on who may start runs, and how many: checked before a question's run is started, whatever the way
it was asked (a command, a mention, a DM).

- Allowlists: RESEARCH_ALLOWED_CHANNELS and RESEARCH_ALLOWED_USERS (empty: everyone, everywhere).
- Guests and people from other organisations (Slack Connect): only if RESEARCH_ALLOW_GUESTS and
  RESEARCH_ALLOW_EXTERNAL_USERS say so (bot/people.py); when Slack cannot say who asks, nothing starts.
- RESEARCH_MAX_RUNS_IN_FLIGHT: a person's runs not yet finished (researching, or waiting for review).
- RESEARCH_MAX_RUNS_PER_HOUR: a person's runs started in the last hour.
- RESEARCH_WORKSPACE_DAILY_TOKENS: the model tokens a workspace's runs may spend in a UTC day, as the
  worker records them (core/workspace_tokens.py); past it, no new run starts until midnight UTC.

The counts come from Temporal's visibility store (a run's id names its workspace and asker:
slack_ui/ids.py), so a restart resets nothing and several bots on one Temporal agree. Visibility can
trail a start by a moment, so a burst may pass a cap by a run or two. When Temporal cannot count, the
question is let through (the start itself will fail if Temporal is down) and the log says so.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import structlog
from temporalio.client import Client
from temporalio.runtime import Runtime

from bot.people import Bar, People
from core.settings import Settings
from core.workspace_tokens import WorkspaceTokens, next_day
from workflows.models import SlackContext

__all__ = ["HOUR", "Refusal", "count_refused", "refusal"]

log = structlog.get_logger(__name__)

HOUR = timedelta(hours=1)
COUNT_WAIT = timedelta(seconds=1)

BARRED = {
    Bar.GUEST: "Guests can't start research here; ask a member of the workspace.",
    Bar.EXTERNAL: "People from other organisations can't start research here; ask a member of this workspace.",
    Bar.UNKNOWN: "I couldn't check with Slack who you are just now, so nothing was started. Try again in a minute.",
}


@dataclass(frozen=True)
class Refusal:
    """Why a question is not started, in one line for the asker alone; ``cap``: which, for /metrics."""

    cap: str
    text: str


async def refusal(
    settings: Settings,
    temporal: Client,
    slack: SlackContext,
    workflow_id: str,
    now: datetime | None = None,
    tokens: WorkspaceTokens | None = None,
    people: People | None = None,
    user_team: str | None = None,
) -> Refusal | None:
    """Why this person may not start ``workflow_id`` here now, or None. The run itself is not counted
    (Slack may deliver its question twice). ``tokens``: the workspaces' spend, for the daily cap;
    ``people``: who is a guest or external (None: not checked); ``user_team``: the asker's own team, where
    the request names it."""
    if settings.research_allowed_channels and slack.channel_id not in settings.research_allowed_channels:
        return Refusal("channel", "Research isn't switched on in this channel; ask in one where it is.")
    if settings.research_allowed_users and slack.user_id not in settings.research_allowed_users:
        return Refusal("person", "You're not on the list of people who may start research; ask an admin.")
    if people is not None and (bar := await people.bar(settings, slack.user_id, user_team)):
        return Refusal(bar.value, BARRED[bar])
    now = now or datetime.now(UTC)
    if refused := await _over_daily_tokens(settings, tokens, slack, now):
        return refused
    if not settings.research_max_runs_in_flight and not settings.research_max_runs_per_hour:
        return None
    mine = f"WorkflowType='ResearchWorkflow' AND WorkflowId STARTS_WITH '{_prefix(workflow_id)}'"
    mine += f" AND WorkflowId != '{workflow_id}'"
    try:
        return await _counted(settings, temporal, mine, now)
    except Exception as error:
        log.warning("caps.not_counted", workflow_id=workflow_id, error=str(error) or repr(error))
        return None


async def _over_daily_tokens(
    settings: Settings, tokens: WorkspaceTokens | None, slack: SlackContext, now: datetime
) -> Refusal | None:
    limit = settings.research_workspace_daily_tokens
    if not limit or tokens is None or not slack.team_id:
        return None
    try:
        spent = await asyncio.wait_for(asyncio.to_thread(tokens.spent, slack.team_id, now), COUNT_WAIT.total_seconds())
    except Exception as error:
        log.warning("caps.tokens_not_counted", team_id=slack.team_id, error=str(error) or repr(error))
        return None
    if spent < limit:
        return None
    return Refusal(
        "workspace_tokens",
        f"This workspace has used its {limit:,} research tokens for today ({spent:,} spent); "
        f"new runs can start after {next_day(now):%H:%M} UTC, in {_until(next_day(now) - now)}.",
    )


async def _counted(settings: Settings, temporal: Client, mine: str, now: datetime) -> Refusal | None:
    limit = settings.research_max_runs_in_flight
    if limit:
        running = await temporal.count_workflows(f"{mine} AND ExecutionStatus='Running'", rpc_timeout=COUNT_WAIT)
        if running.count >= limit:
            return Refusal(
                "in_flight",
                f"You have {_runs(running.count)} in progress; the limit is {limit}. "
                "Try again when one finishes (approve, reject or cancel one you no longer need).",
            )
    limit = settings.research_max_runs_per_hour
    if limit:
        since = (now - HOUR).strftime("%Y-%m-%dT%H:%M:%SZ")
        started = [
            execution.start_time
            async for execution in temporal.list_workflows(
                f"{mine} AND StartTime > '{since}'", limit=limit, rpc_timeout=COUNT_WAIT
            )
        ]
        if len(started) >= limit:
            free = min(started) + HOUR
            return Refusal(
                "per_hour",
                f"You have started {_runs(len(started))} in the last hour; the limit is {limit}. "
                f"Try again after {free:%H:%M} UTC.",
            )
    return None


def count_refused(temporal: Client, cap: str) -> None:
    """``research_runs_refused`` by ``cap`` on the bot's /metrics (METRICS_BIND_ADDRESS)."""
    config = getattr(getattr(temporal, "service_client", None), "config", None)
    runtime = getattr(config, "runtime", None) or Runtime.default()
    counter = runtime.metric_meter.create_counter("research_runs_refused", "questions a cap refused to start")
    counter.with_additional_attributes({"cap": cap}).add(1)


def _prefix(workflow_id: str) -> str:
    """``research-{team}-{user}-`` of a run's id: every run this person asked in this workspace."""
    parts = workflow_id.split("-")
    return "-".join(parts[:3]) + "-"


def _until(left: timedelta) -> str:
    hours, minutes = divmod(max(1, round(left.total_seconds() / 60)), 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


def _runs(count: int) -> str:
    return f"{count} run" if count == 1 else f"{count} runs"
