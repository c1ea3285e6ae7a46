"""/research <question> | status | help: ack within Slack's 3 seconds, start a run, answer the asker.

A question is checked and acked at once; the workflow starts right after the ack, so the ack waits
on nothing (not even Temporal) and a burst of commands is answered as fast as `help`. If the start
fails, the asker is told in private through the command's response_url. A run's workflow id is
made from the command (``research-<team>-<user>-<channel>-<digest of team + trigger_id>``), so the
same command delivered twice starts one run, and a click or a modal can tell who asked and where
without asking Temporal.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import structlog
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.exceptions import WorkflowAlreadyStartedError

from bot.runs import build_request, start_run
from core.settings import Settings
from slack_ui.blocks import context as context_block
from slack_ui.replies import help_message, status_message, usage_message
from workflows.models import RunStatus, SlackContext, clean_question
from workflows.research import ResearchWorkflow

__all__ = ["RunAddress", "parse_workflow_id", "register", "research", "start_research", "workflow_id_for", "your_runs"]

log = structlog.get_logger(__name__)

Reply = dict[str, Any]  # keyword arguments for ack() or respond(): text, and blocks when there are any

# Starting a workflow normally takes milliseconds; past this, the asker hears it is slow.
START_WAIT = timedelta(seconds=10)
STATUS_QUERY_WAIT = timedelta(seconds=3)
RECENT_RUNS = 20

STARTED = "🔎 Researching… I'll post the plan, progress and a draft for review in this channel."
ALREADY_STARTED = "That request was already received: its run is in this channel."
UNAVAILABLE = (
    "Sorry, the research service is unavailable right now, so nothing was started. Try again in a few minutes."
)
SLOW = (
    "The research service is slow to answer right now. If your run started, it will post in this channel "
    "within a minute; if nothing appears, ask again."
)
STATUS_UNAVAILABLE = "Sorry, the research service is unavailable right now, so I can't list your runs. Try again soon."

_ID = re.compile(r"^research-([A-Za-z0-9]+)-([A-Za-z0-9]+)-([A-Za-z0-9]+)-([0-9a-f]{20})$")


def register(app: AsyncApp) -> None:
    app.command("/research")(research)


async def research(
    ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient, context: AsyncBoltContext
) -> None:
    """Empty or `help`: how to use it. `status`: the asker's recent runs. Anything else: a question."""
    text = _unescape(command.get("text") or "").strip()
    if text.lower() in ("", "help"):
        await ack(**(help_message() if text else usage_message()))
    elif text.lower() == "status":
        await ack()
        await respond(response_type="ephemeral", **await your_runs(context["temporal"], client, command))
    else:
        try:
            question = clean_question(text)
        except ValueError as refused:
            await ack(response_type="ephemeral", text=f"Sorry, I can't research that: {refused}.")
            return
        await ack(response_type="ephemeral", text=STARTED)
        async with context["acks"].after_ack():  # the other commands of a burst get their acks first
            if trouble := await start_research(context["settings"], context["temporal"], command, question):
                await respond(response_type="ephemeral", **trouble)


# ------------------------------------------------------------------ the one call each branch makes


async def start_research(settings: Settings, temporal: Client, command: dict[str, Any], question: str) -> Reply | None:
    """Start the run for a command; None once it runs, else what to tell the asker about why not."""
    workflow_id = workflow_id_for(command)
    user = command.get("user_id", "")
    bound = log.bind(workflow_id=workflow_id, user=user)
    try:
        slack = SlackContext(
            channel_id=command["channel_id"],
            user_id=user,
            team_id=command.get("team_id"),
            response_url=command.get("response_url"),
        )
        request = build_request(settings, question, requested_by=user, slack=slack)
        await asyncio.wait_for(start_run(temporal, settings, request, workflow_id), START_WAIT.total_seconds())
    except WorkflowAlreadyStartedError:
        bound.info("research.duplicate_command")
        return {"text": ALREADY_STARTED}
    except TimeoutError:
        bound.warning("research.start_slow")
        return {"text": SLOW}
    except Exception:
        bound.exception("research.start_failed")
        return {"text": UNAVAILABLE}
    bound.info("research.started")
    return None


async def your_runs(temporal: Client, slack: AsyncWebClient, command: dict[str, Any]) -> Reply:
    """The asker's most recent runs, newest first, each with where it is and a link to its thread."""
    team, user = _slack_id(command.get("team_id")), _slack_id(command.get("user_id"))
    query = f"WorkflowType='ResearchWorkflow' AND WorkflowId STARTS_WITH 'research-{team}-{user}-'"
    try:
        executions = [execution async for execution in temporal.list_workflows(query, limit=RECENT_RUNS)]
    except Exception:
        log.exception("research.status_failed", user=command.get("user_id"))
        return {"text": STATUS_UNAVAILABLE}
    statuses = await asyncio.gather(*(_status(temporal, e.id, e.status) for e in executions))
    found = [status for status in statuses if status is not None]
    links = await asyncio.gather(*(_thread_link(slack, status) for status in found))
    reply = status_message(found, {status.workflow_id: url for status, url in zip(found, links, strict=True) if url})
    if missing := len(statuses) - len(found):
        reply["blocks"].append(context_block(f"_{missing} more could not be read: no research worker answered._"))
    return reply


async def _status(temporal: Client, workflow_id: str, execution: WorkflowExecutionStatus | None) -> RunStatus | None:
    handle = temporal.get_workflow_handle_for(ResearchWorkflow.run, workflow_id)
    try:
        return await handle.query(ResearchWorkflow.status, rpc_timeout=STATUS_QUERY_WAIT)
    except Exception as error:
        log.warning("research.status_query_failed", workflow_id=workflow_id, execution=str(execution), error=str(error))
        return None


async def _thread_link(slack: AsyncWebClient, status: RunStatus) -> str | None:
    """The permalink of a run's thread; None for runs without one (or if Slack will not say)."""
    address = parse_workflow_id(status.workflow_id)
    if address is None or status.thread_ts is None:
        return None
    try:
        answer = await slack.chat_getPermalink(channel=address.channel_id, message_ts=status.thread_ts)
    except SlackApiError as error:
        log.warning("research.permalink_failed", workflow_id=status.workflow_id, error=error.response.get("error"))
        return None
    return answer.get("permalink")


# ------------------------------------------------------------------ workflow ids


@dataclass(frozen=True)
class RunAddress:
    """Who asked for a run and where, as its workflow id says."""

    team_id: str
    user_id: str
    channel_id: str


def workflow_id_for(command: dict[str, Any]) -> str:
    """One id per command: the same team and trigger_id (a command delivered twice) give the same id."""
    team, user, channel = (_slack_id(command.get(key)) for key in ("team_id", "user_id", "channel_id"))
    trigger = command.get("trigger_id") or uuid.uuid4().hex
    digest = hashlib.sha256(f"{team}:{trigger}".encode()).hexdigest()[:20]
    return f"research-{team}-{user}-{channel}-{digest}"


def parse_workflow_id(workflow_id: str) -> RunAddress | None:
    """The asker and channel of a run started from Slack; None for runs started elsewhere (the CLI)."""
    match = _ID.match(workflow_id)
    return RunAddress(*match.group(1, 2, 3)) if match else None


def _slack_id(value: object) -> str:
    """A Slack id kept to what ids are made of, so it is safe in a workflow id and a visibility query."""
    return re.sub(r"[^A-Za-z0-9]", "", str(value or "")) or "none"


def _unescape(text: str) -> str:
    """Slack sends &, < and > in command text as entities; the question is plain text."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
