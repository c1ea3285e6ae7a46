"""Replies in a run's thread (``message.channels`` / ``message.groups`` events): what each one is.

* While a draft waits, a reply from someone who may decide (bot/decisions.py) is offered back to them as
  feedback: an ephemeral with "Revise with this" and "Approve with this" (slack_ui/replies.py); nothing
  is decided without that click (bot/listeners/thread_feedback.py).
* After the thread's latest run has finished, a reply from someone who may decide on it is a follow-up
  question: a new run in the same thread, starting from the earlier run's question, report and sources
  (workflows/follow_ups.py). It is started with signal-with-start under an id derived from the earlier
  run (slack_ui/ids.py ``follow_up_id``), so replies sent at once make one run that takes them all, and
  the start is written before Slack gets its 200 (a listener middleware, like bot/from_message.py).
* Anything else is left alone: other people's replies, bots' messages, edits and other subtypes, replies
  in threads that are not a run's, mentions (those are questions of their own: ``app_mention``).

The same holds in a DM: a reply in a run's thread is feedback or a follow-up, not a new question
(bot/listeners/events.py); any other DM message is a question.

Which run a thread belongs to: the table of run threads the worker writes as it posts a run's root
(core/run_threads.py), at no Slack cost; only a thread older than the table is read, with one
``conversations.replies``. Its follow-ups are found from it by id (a ``describe`` each). The offer of a
reply as feedback carries the reply's text in its buttons where it fits, so the click reads nothing
either. Slack's 429 on a read is said to the person ("reply again in a minute"), never taken for
"no run" or "reply gone": Tier 1 allows one conversations.replies a minute.

Slack: https://docs.slack.dev/reference/events/message.channels ,
https://docs.slack.dev/reference/methods/conversations.replies , https://docs.slack.dev/messaging/message-metadata/ ;
Temporal's signal-with-start: https://docs.temporal.io/sending-messages#signal-with-start
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
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from bot import caps
from bot.decisions import BARRED, may_not_decide
from bot.from_message import question_in
from bot.people import People
from bot.runs import build_request
from core.run_threads import RunThreads
from core.settings import Settings
from core.workspace_tokens import WorkspaceTokens
from slack_ui.ids import STEP_EVENT, follow_up_id, parse_workflow_id, slack_id
from slack_ui.replies import thread_feedback_prompt
from workflows.models import (
    MAX_EARLIER_REPORT_CHARS,
    MAX_EARLIER_SOURCES,
    MAX_FEEDBACK_CHARS,
    EarlierRun,
    FollowUpInput,
    SlackContext,
    Stage,
    clean_question,
)
from workflows.research import ResearchWorkflow

__all__ = [
    "Reply",
    "Routed",
    "ThreadNotRead",
    "read_reply_text",
    "reply_in",
    "reply_text",
    "route_reply",
    "tell_replier",
]

log = structlog.get_logger(__name__)

ROUTE_WAIT = timedelta(seconds=2.5)  # all of it, inside Slack's 3 s for an event
LOOKUP_WAIT = timedelta(seconds=1.5)
THREAD_HEAD = 10  # the thread's first messages hold its first run's first post
MAX_FOLLOW_UPS = 50  # a thread's chain of follow-ups is walked at most this far

STILL_RESEARCHING = "The run in this thread is still researching: reply once its draft is posted."
UNAVAILABLE = "The research service did not answer in time, so I did nothing with your reply. Try again in a minute."
TOO_LONG = f"Your reply is too long to be feedback (at most {MAX_FEEDBACK_CHARS:,} characters): use the draft's Revise."
REPLY_GONE = "I can't find your reply any more (deleted?), so nothing was decided."
NOT_READ = (
    "I could not read this thread just now (Slack limits how often I may), so I did nothing with your reply. "
    "Reply again in a minute."
)
NOT_READ_CLICK = (
    "I could not read your reply just now (Slack limits how often I may), so nothing was decided. "
    "Click again in a minute."
)


class ThreadNotRead(Exception):
    """Slack refused a read of the thread for now (a 429): the person is told, the reply is not dropped."""


@dataclass(frozen=True)
class Reply:
    """A person's own reply in a thread of a channel."""

    team_id: str
    user_id: str
    channel_id: str
    ts: str
    thread_ts: str
    text: str
    user_team: str | None = None  # the replier's own team, as the event names it (Slack Connect: not ours)


@dataclass(frozen=True)
class Routed:
    """What the listener says after the ack: offer the reply as feedback on a draft, or one line, or nothing."""

    offer: tuple[str, int] | None = None  # (workflow id, draft round)
    say: str | None = None
    run: str | None = None  # the thread's latest run; None: the thread is no run's (in a DM, a new question)


def reply_in(body: Mapping[str, Any], event: Mapping[str, Any], bot_user_id: str | None) -> Reply | None:
    """The reply in a message event, or None for what is not a person's new reply in a thread (of a channel,
    or of a DM: there, only a run's thread makes it a reply rather than a question)."""
    if event.get("channel_type") not in ("channel", "group", "im") or "subtype" in event or event.get("bot_id"):
        return None
    user, channel, ts, thread, text = (event.get(key) for key in ("user", "channel", "ts", "thread_ts", "text"))
    if not all(isinstance(value, str) and value for value in (user, channel, ts, thread)) or thread == ts:
        return None
    if not isinstance(text, str) or (bot_user_id and f"<@{bot_user_id}" in text):
        return None  # a mention is a question of its own (app_mention)
    team = slack_id(event.get("team") or body.get("team_id"))
    user_team = event.get("user_team")
    user_team = user_team if isinstance(user_team, str) and user_team else None
    return Reply(team, str(user), str(channel), str(ts), str(thread), text, user_team)


async def route_reply(
    settings: Settings,
    temporal: Client,
    client: AsyncWebClient,
    reply: Reply,
    bot_user_id: str | None,
    threads: RunThreads | None = None,
    tokens: WorkspaceTokens | None = None,
    people: People | None = None,
) -> Routed:
    """Find the thread's run and do what the reply is (module docstring), within ROUTE_WAIT. ``threads``
    knows the runs' threads without reading Slack (core/run_threads.py); ``tokens``, the workspaces' spend;
    ``people``, who is a guest or external (bot/people.py)."""
    try:
        return await asyncio.wait_for(
            _route(settings, temporal, client, reply, bot_user_id, threads, tokens, people), ROUTE_WAIT.total_seconds()
        )
    except ThreadNotRead:
        return Routed(say=NOT_READ)
    except Exception:
        log.exception("thread.reply_not_routed", channel=reply.channel_id, thread=reply.thread_ts)
        return Routed(say=UNAVAILABLE)


async def _route(
    settings: Settings,
    temporal: Client,
    client: AsyncWebClient,
    reply: Reply,
    bot_user_id: str | None,
    threads: RunThreads | None,
    tokens: WorkspaceTokens | None,
    people: People | None,
) -> Routed:
    first = await _thread_run(threads, client, reply, bot_user_id)
    latest = await _latest_run(temporal, first) if first else None
    if latest is None:
        return Routed()  # not a run's thread
    workflow_id, running = latest
    if refused := await may_not_decide(settings, workflow_id, reply.user_id, people, reply.user_team):
        if refused in BARRED.values():  # the asker, but a guest or external (or Slack could not say): told why
            return Routed(say=refused, run=workflow_id)
        return Routed(run=workflow_id)  # anyone else's reply is theirs
    bound = log.bind(workflow_id=workflow_id, user=reply.user_id)
    text = _question(reply, bot_user_id)
    if not running:
        if text is None:
            return Routed(run=workflow_id)  # nothing to ask
        slack = SlackContext(channel_id=reply.channel_id, user_id=reply.user_id, team_id=reply.team_id)
        # A follow-up's run counts against the thread's first asker (its id carries theirs).
        follow_up = follow_up_id(workflow_id)
        if refused := await caps.refusal(
            settings, temporal, slack, follow_up, tokens=tokens, people=people, user_team=reply.user_team
        ):
            bound.info("thread.follow_up_refused_by_cap", cap=refused.cap)
            caps.count_refused(temporal, refused.cap)
            return Routed(say=refused.text, run=workflow_id)
        earlier = await _earlier(temporal, workflow_id)
        await _start_follow_up(settings, temporal, reply, text, earlier)
        return Routed(run=workflow_id)
    status = await temporal.get_workflow_handle_for(ResearchWorkflow.run, workflow_id).query(
        ResearchWorkflow.status, rpc_timeout=LOOKUP_WAIT
    )
    if status.stage is Stage.AWAITING_DECISION and status.draft is not None:
        bound.info("thread.offered_as_feedback", draft_round=status.draft_round)
        return Routed(offer=(workflow_id, status.draft_round), run=workflow_id)
    if status.stage is Stage.STARTING and workflow_id != first and text is not None:  # a follow-up gathering
        await temporal.get_workflow_handle_for(ResearchWorkflow.run, workflow_id).signal(
            ResearchWorkflow.follow_up, FollowUpInput(text=text, user_id=reply.user_id, ts=reply.ts)
        )
        bound.info("thread.follow_up_joined")
        return Routed(run=workflow_id)
    return Routed(say=STILL_RESEARCHING, run=workflow_id)


def _question(reply: Reply, bot_user_id: str | None) -> str | None:
    try:
        return clean_question(question_in(reply.text, bot_user_id))
    except ValueError:
        return None


async def _thread_run(
    threads: RunThreads | None, client: AsyncWebClient, reply: Reply, bot_user_id: str | None
) -> str | None:
    """The thread's first run: from the table of run threads, at no Slack cost; a thread the table does
    not know is no run's, unless it is older than the table's first row (a run from before it), or the
    table cannot be read: then the thread's first messages say (one conversations.replies)."""
    if threads is not None:
        try:
            found = await asyncio.to_thread(threads.run_of, reply.channel_id, reply.thread_ts)
            since = None if found else await asyncio.to_thread(threads.known_since)
        except Exception as error:
            log.info("thread.index_unreadable", error=str(error) or repr(error))
        else:
            address = parse_workflow_id(found) if found else None
            if address is not None and address.team_id == reply.team_id and address.channel_id == reply.channel_id:
                return found
            if found or (since is not None and float(reply.thread_ts) >= float(since)):
                return None  # no run's thread: no Slack call
    return await _first_run(client, reply, bot_user_id)


async def _first_run(client: AsyncWebClient, reply: Reply, bot_user_id: str | None) -> str | None:
    """The workflow id of the thread's first run: the first of the thread's opening messages the bot posted
    with our step metadata, for a run of this team and channel."""
    try:
        answer = await client.conversations_replies(
            channel=reply.channel_id, ts=reply.thread_ts, include_all_metadata=True, limit=THREAD_HEAD
        )
    except SlackApiError as error:
        log.info("thread.not_read", channel=reply.channel_id, error=error.response.get("error"))
        if error.response.status_code == 429:
            raise ThreadNotRead() from error
        return None
    for message in answer.get("messages") or []:
        metadata = message.get("metadata") or {}
        workflow_id = (metadata.get("event_payload") or {}).get("workflow_id")
        if metadata.get("event_type") != STEP_EVENT or not isinstance(workflow_id, str):
            continue
        if bot_user_id and message.get("user") != bot_user_id:
            continue  # only the bot's own posts say which run a thread is
        address = parse_workflow_id(workflow_id)
        if address and address.team_id == reply.team_id and address.channel_id == reply.channel_id:
            return workflow_id
    return None


async def _latest_run(temporal: Client, first: str) -> tuple[str, bool] | None:
    """The thread's latest run (the first, or its last follow-up) and whether it is still running."""
    latest: tuple[str, bool] | None = None
    workflow_id = first
    for _ in range(MAX_FOLLOW_UPS):
        try:
            described = await temporal.get_workflow_handle(workflow_id).describe(rpc_timeout=LOOKUP_WAIT)
        except RPCError as error:
            if error.status == RPCStatusCode.NOT_FOUND:
                return latest
            raise
        latest = (workflow_id, described.status == WorkflowExecutionStatus.RUNNING)
        workflow_id = follow_up_id(workflow_id)
    return latest


async def _earlier(temporal: Client, workflow_id: str) -> EarlierRun:
    """What a finished run leaves a follow-up: its question, report and sources, bounded; a run that failed
    leaves only its id."""
    try:
        result = await temporal.get_workflow_handle_for(ResearchWorkflow.run, workflow_id).result(
            rpc_timeout=LOOKUP_WAIT
        )
    except Exception as error:
        log.info("thread.earlier_without_report", workflow_id=workflow_id, error=str(error) or repr(error))
        return EarlierRun(workflow_id=workflow_id)
    return EarlierRun(
        workflow_id=workflow_id,
        question=result.question,
        report=result.answer[:MAX_EARLIER_REPORT_CHARS],
        sources=result.sources[:MAX_EARLIER_SOURCES],
    )


async def _start_follow_up(settings: Settings, temporal: Client, reply: Reply, text: str, earlier: EarlierRun) -> None:
    """Signal-with-start: the follow-up of ``earlier`` starts with this reply, or, already started by a reply
    sent at the same time, takes this one too. Written in Temporal before the event's 200."""
    workflow_id = follow_up_id(earlier.workflow_id)
    address = parse_workflow_id(earlier.workflow_id)
    assert address is not None  # follow_up_id checked it
    slack = SlackContext(
        channel_id=reply.channel_id, user_id=reply.user_id, team_id=reply.team_id, thread_ts=reply.thread_ts
    )
    request = build_request(settings, text, requested_by=reply.user_id, slack=slack)
    # The earlier run's asker may decide on its follow-ups too, whoever asked them.
    approvers = sorted({*request.approvers, address.user_id})
    request = request.model_copy(update={"earlier": earlier, "approvers": approvers})
    try:
        await temporal.start_workflow(
            ResearchWorkflow.run,
            request,
            id=workflow_id,
            task_queue=settings.research_task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            start_signal="follow_up",
            start_signal_args=[FollowUpInput(text=text, user_id=reply.user_id, ts=reply.ts)],
        )
    except WorkflowAlreadyStartedError:  # it ran and ended in between: this reply's turn has passed
        log.info("thread.follow_up_already_ended", workflow_id=workflow_id, user=reply.user_id)
        return
    log.info("thread.follow_up_started", workflow_id=workflow_id, user=reply.user_id, earlier=earlier.workflow_id)


def reply_text(text: str) -> str:
    """A reply's text as it would be the feedback: Slack's entities undone."""
    return question_in(text, None)


async def read_reply_text(client: AsyncWebClient, channel: str, thread_ts: str, reply_ts: str) -> str | None:
    """The reply's text as it is now, read from Slack (only for a reply too long to ride in the offer's
    buttons); None if it is gone; ThreadNotRead if Slack refused the read for now."""
    try:
        answer = await client.conversations_replies(
            channel=channel, ts=thread_ts, oldest=reply_ts, latest=reply_ts, inclusive=True, limit=5
        )
    except SlackApiError as error:
        log.info("thread.reply_not_read", channel=channel, error=error.response.get("error"))
        if error.response.status_code == 429:
            raise ThreadNotRead() from error
        return None
    found = [m for m in answer.get("messages") or [] if m.get("ts") == reply_ts]
    return reply_text(str(found[0].get("text") or "")) if found else None


async def tell_replier(client: AsyncWebClient, reply: Reply, routed: Routed) -> None:
    """After the ack: the feedback offer, or the one line, to the replier alone; best effort."""
    if routed.offer is not None:
        workflow_id, draft_round = routed.offer
        content = thread_feedback_prompt(workflow_id, draft_round, reply.thread_ts, reply.ts, reply_text(reply.text))
    elif routed.say is not None:
        content = {"text": routed.say}
    else:
        return
    try:
        await client.chat_postEphemeral(
            channel=reply.channel_id, user=reply.user_id, thread_ts=reply.thread_ts, **content
        )
    except SlackApiError as error:
        log.warning("thread.replier_not_told", channel=reply.channel_id, error=error.response.get("error"))
