"""/research from Slack: start a run for a command's question, and list the asker's runs.

The command listener (bot/listeners/commands.py) acks only after :func:`start_research` has started the
run, or said it is queued (bot/start_in_time.py); a queued asker hears through the command's
response_url whether it started.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import structlog
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from temporalio.client import Client, WorkflowExecutionStatus

from bot.people import People
from bot.start_in_time import Reply, Start, start_question
from bot.under_way import UnderWay
from core.response_urls import ResponseUrls
from core.settings import Settings
from core.workspace_tokens import WorkspaceTokens
from slack_ui.blocks import context as context_block
from slack_ui.ids import parse_workflow_id, slack_id, workflow_id_for
from slack_ui.replies import status_message
from workflows.models import RunStatus, SlackContext
from workflows.research import ResearchWorkflow

__all__ = ["review_flag", "start_research", "your_runs"]

log = structlog.get_logger(__name__)

STATUS_QUERY_WAIT = timedelta(seconds=3)
KEEP_WAIT = timedelta(milliseconds=500)  # for the response_url's write: a slow database must not cost the ack
RECENT_RUNS = 20
STATUS_UNAVAILABLE = "Sorry, the research service is unavailable right now, so I can't list your runs. Try again soon."


REVIEW_PLAN_FLAGS = {"--review-plan": True, "--no-review-plan": False}


def review_flag(text: str) -> tuple[bool | None, str]:
    """``--review-plan`` or ``--no-review-plan`` at the start of a command's text: whether this run's plan
    waits for a review (None: the workspace's RESEARCH_REVIEW_PLAN), and the question after it."""
    first, _, rest = text.strip().partition(" ")
    if first.lower() in REVIEW_PLAN_FLAGS:
        return REVIEW_PLAN_FLAGS[first.lower()], rest.strip()
    return None, text.strip()


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
