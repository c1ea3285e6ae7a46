"""/research from Slack: start a run for a question, and list the asker's runs.

"A 200 means a run": the command listener (bot/listeners/commands.py) acks only after
:func:`start_research` has made the durable write, the workflow's start. The start normally takes
milliseconds; it gets what is left of START_DEADLINE, counted from the request's arrival (bot/arrival.py),
to finish so that the ack stays inside Slack's 3 seconds. Past
that the asker is told honestly that the question is queued, the start keeps going (up to
START_WAIT), and the asker hears through the command's response_url whether it started. The
workflow id comes from the command (slack_ui/ids.py), so a command Slack delivers twice starts one
run. A stopping bot lets the starts still under way finish (bot/under_way.py): those askers
were told their question is queued, not that it was dropped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import structlog
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from bot import caps
from bot.arrival import seconds_since_arrival
from bot.people import People
from bot.runs import build_request, start_run
from bot.under_way import UnderWay
from core.response_urls import ResponseUrls
from core.settings import Settings
from core.workspace_tokens import WorkspaceTokens
from slack_ui.blocks import context as context_block
from slack_ui.ids import parse_workflow_id, slack_id, workflow_id_for
from slack_ui.replies import status_message
from workflows.models import RunStatus, SlackContext
from workflows.research import ResearchWorkflow

__all__ = [
    "START_DEADLINE",
    "START_WAIT",
    "Start",
    "review_flag",
    "start_question",
    "start_research",
    "your_runs",
]

log = structlog.get_logger(__name__)

Reply = dict[str, Any]  # keyword arguments for ack() or respond(): text, and blocks when there are any

# The start must finish within START_DEADLINE for the ack to say it did (and stay inside Slack's 3 s);
# a slower start goes on in the background, up to START_WAIT in all.
START_DEADLINE = timedelta(seconds=2)
START_WAIT = timedelta(seconds=10)
MIN_START_WAIT = 0.1  # seconds: even a request that waited long gets a chance to say "started"
STATUS_QUERY_WAIT = timedelta(seconds=3)
KEEP_WAIT = timedelta(milliseconds=500)  # for the response_url's write: a slow database must not cost the ack
RECENT_RUNS = 20

LOOKUP_WAIT = timedelta(seconds=2)
STARTED = "🔎 Researching… I'll post the plan, progress and a draft for review in this channel."
QUEUED = "⏳ Queued: the research service is slow; I'll tell you here when your run starts."
STARTED_LATE = "🔎 Your run has started: I'll post the plan, progress and a draft for review in this channel."
ALREADY_STARTED = "That request was already received: its run is in this channel."
UNAVAILABLE = (
    "Sorry, the research service is unavailable right now, so nothing was started. Try again in a few minutes."
)
SLOW = (
    "The research service is still slow to answer. If your run started, it will post in this channel "
    "within a minute; if nothing appears, ask again."
)
STATUS_UNAVAILABLE = "Sorry, the research service is unavailable right now, so I can't list your runs. Try again soon."


REVIEW_PLAN_FLAGS = {"--review-plan": True, "--no-review-plan": False}


def review_flag(text: str) -> tuple[bool | None, str]:
    """``--review-plan`` or ``--no-review-plan`` at the start of a command's text: whether this run's plan
    waits for a review (None: the workspace's RESEARCH_REVIEW_PLAN), and the question after it."""
    first, _, rest = text.strip().partition(" ")
    if first.lower() in REVIEW_PLAN_FLAGS:
        return REVIEW_PLAN_FLAGS[first.lower()], rest.strip()
    return None, text.strip()


@dataclass(frozen=True)
class Start:
    """What to ack a question with; ``later``, if the start is still under way, says how it ended."""

    ack: Reply
    later: asyncio.Future[Reply] | None = None
    refused: bool = False  # a cap refused it (bot/caps.py): said to the asker alone


async def start_research(
    settings: Settings,
    temporal: Client,
    command: Mapping[str, Any],
    question: str,
    under_way: UnderWay,
    review_plan: bool | None = None,
    response_urls: ResponseUrls | None = None,
    tokens: WorkspaceTokens | None = None,
    people: People | None = None,
) -> Start:
    """Start the run for a command, waiting up to START_DEADLINE for the start to be written. The command's
    response_url goes to ``response_urls``, not into the run's input (core/response_urls.py). A command
    does not name the asker's own team: ``people`` asks Slack whether they are a guest or external.
    Raises MalformedId (answered 400) for ids no Slack workspace sends."""
    slack = SlackContext(
        channel_id=str(command.get("channel_id") or ""),
        user_id=str(command.get("user_id") or ""),
        team_id=command.get("team_id"),
    )
    workflow_id = workflow_id_for(command)
    if response_urls is not None and (url := command.get("response_url")):
        await _keep_response_url(response_urls, workflow_id, str(url))
    return await start_question(
        settings,
        temporal,
        slack,
        question,
        workflow_id,
        under_way,
        review_plan=review_plan,
        tokens=tokens,
        people=people,
    )


async def _keep_response_url(response_urls: ResponseUrls, workflow_id: str, url: str) -> None:
    """Before the start, so the worker finds it from the run's first post. Best effort, within KEEP_WAIT:
    without it the run goes on, and only the private word that the bot cannot post in the channel is lost."""
    try:
        await asyncio.wait_for(asyncio.to_thread(response_urls.keep, workflow_id, url), KEEP_WAIT.total_seconds())
    except Exception as error:
        log.warning("research.response_url_not_kept", workflow_id=workflow_id, error=str(error) or repr(error))


async def start_question(
    settings: Settings,
    temporal: Client,
    slack: SlackContext,
    question: str,
    workflow_id: str,
    under_way: UnderWay,
    review_plan: bool | None = None,
    tokens: WorkspaceTokens | None = None,
    people: People | None = None,
    user_team: str | None = None,
) -> Start:
    """Start the run ``workflow_id`` for a question asked in Slack (a command, a mention, a DM), waiting
    up to START_DEADLINE for the start to be written; past that the start goes on, held by ``under_way``.
    ``review_plan`` None takes the workspace's default (RESEARCH_REVIEW_PLAN). A question a cap refuses
    (bot/caps.py; ``people`` and ``user_team`` for guests and external users) starts nothing, and the ack
    says why."""
    if refused := await caps.refusal(
        settings, temporal, slack, workflow_id, tokens=tokens, people=people, user_team=user_team
    ):
        log.info("research.refused_by_cap", cap=refused.cap, workflow_id=workflow_id, user=slack.user_id)
        caps.count_refused(temporal, refused.cap)
        return Start(ack={"text": refused.text}, refused=True)
    start = asyncio.ensure_future(_start(settings, temporal, slack, question, workflow_id, review_plan))
    # Counted from the request's arrival: in a busy bot it may have waited a while before this listener ran.
    deadline = max(MIN_START_WAIT, START_DEADLINE.total_seconds() - seconds_since_arrival())
    done, _ = await asyncio.wait({start}, timeout=deadline)
    if done:
        return Start(ack=start.result())
    log.warning("research.start_queued", workflow_id=workflow_id, user=slack.user_id)
    under_way.hold(start)
    later = asyncio.ensure_future(_told_later(start))
    return Start(ack={"text": QUEUED}, later=later)


async def _start(
    settings: Settings,
    temporal: Client,
    slack: SlackContext,
    question: str,
    workflow_id: str,
    review_plan: bool | None = None,
) -> Reply:
    """The start itself, bounded by START_WAIT: what to tell the asker about it. A start that timed out
    or failed on the way may still have been written, so the run is looked up by its id before anyone
    hears that nothing was started."""
    bound = log.bind(workflow_id=workflow_id, user=slack.user_id)
    try:
        request = build_request(settings, question, requested_by=slack.user_id, slack=slack, review_plan=review_plan)
        await asyncio.wait_for(start_run(temporal, settings, request, workflow_id), START_WAIT.total_seconds())
    except WorkflowAlreadyStartedError:
        bound.info("research.duplicate_command")
        return {"text": ALREADY_STARTED}
    except Exception as error:
        exists = await _run_exists(temporal, workflow_id)
        if exists:
            bound.info("research.started_despite_error", error=str(error) or repr(error))
            return {"text": STARTED}
        if isinstance(error, TimeoutError):
            bound.warning("research.start_slow", looked_up=exists is not None)
            return {"text": SLOW}
        if isinstance(error, RPCError):
            bound.error("research.start_failed", error=str(error), looked_up=exists is not None)
        else:
            bound.exception("research.start_failed")
        return {"text": UNAVAILABLE}
    bound.info("research.started")
    return {"text": STARTED}


async def _run_exists(temporal: Client, workflow_id: str) -> bool | None:
    """Whether Temporal has this run; None when it cannot say (unreachable too)."""
    try:
        await temporal.get_workflow_handle(workflow_id).describe(rpc_timeout=LOOKUP_WAIT)
    except RPCError as error:
        return False if error.status == RPCStatusCode.NOT_FOUND else None
    except Exception:
        return None
    return True


async def _told_later(start: asyncio.Future[Reply]) -> Reply:
    reply = await start
    return {"text": STARTED_LATE} if reply["text"] == STARTED else reply


async def your_runs(temporal: Client, slack: AsyncWebClient, command: Mapping[str, Any]) -> Reply:
    """The asker's most recent runs, newest first, each with where it is and a link to its thread."""
    team, user = slack_id(command.get("team_id")), slack_id(command.get("user_id"))
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
