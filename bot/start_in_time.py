"""Starting a run inside Slack's 3 seconds, wherever the question came from: a command
(bot/from_command.py), a mention or a DM (bot/from_message.py).

"A 200 means a run": the listener acks only after :func:`start_question` has made the durable write, the
workflow's start. The start normally takes milliseconds; it gets what is left of START_DEADLINE, counted
from the request's arrival (bot/arrival.py), to finish so that the ack stays inside Slack's 3 seconds.
Past that the asker is told honestly that the question is queued, the start keeps going (up to
START_WAIT), and the asker hears later whether it started. The workflow id comes from the request
(slack_ui/ids.py), so a request Slack delivers twice starts one run. A stopping bot lets the starts still
under way finish (bot/under_way.py): those askers were told their question is queued, not that it was
dropped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import structlog
from temporalio.client import Client
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from bot import caps
from bot.arrival import seconds_since_arrival
from bot.people import People
from bot.runs import build_request, start_run
from bot.under_way import UnderWay
from core.settings import Settings
from core.workspace_tokens import WorkspaceTokens
from workflows.models import SlackContext, SlackFileRef

__all__ = [
    "ALREADY_STARTED",
    "LOOKUP_WAIT",
    "QUEUED",
    "SLOW",
    "STARTED",
    "STARTED_LATE",
    "START_DEADLINE",
    "START_WAIT",
    "UNAVAILABLE",
    "Reply",
    "Start",
    "start_question",
]

log = structlog.get_logger(__name__)

Reply = dict[str, Any]  # keyword arguments for ack() or respond(): text, and blocks when there are any

# The start must finish within START_DEADLINE for the ack to say it did (and stay inside Slack's 3 s);
# a slower start goes on in the background, up to START_WAIT in all.
START_DEADLINE = timedelta(seconds=2)
START_WAIT = timedelta(seconds=10)
MIN_START_WAIT = 0.1  # seconds: even a request that waited long gets a chance to say "started"
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


@dataclass(frozen=True)
class Start:
    """What to ack a question with; ``later``, if the start is still under way, says how it ended."""

    ack: Reply
    later: asyncio.Future[Reply] | None = None
    refused: bool = False  # a cap refused it (bot/caps.py): said to the asker alone


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
    files: Sequence[SlackFileRef] = (),
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
    start = asyncio.ensure_future(_start(settings, temporal, slack, question, workflow_id, review_plan, files))
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
    files: Sequence[SlackFileRef] = (),
) -> Reply:
    """The start itself, bounded by START_WAIT: what to tell the asker about it. A start that timed out
    or failed on the way may still have been written, so the run is looked up by its id before anyone
    hears that nothing was started."""
    bound = log.bind(workflow_id=workflow_id, user=slack.user_id)
    try:
        request = build_request(settings, question, requested_by=slack.user_id, slack=slack, review_plan=review_plan)
        request.files = list(files)  # attached to the asking message: read first (only their ids travel)
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
