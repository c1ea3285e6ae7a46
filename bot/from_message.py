"""A question asked by a message: ``@ResearchBot <question>`` in a channel, or a message to the bot in a DM
or its agent pane. The same rules as ``/research``: the question is checked, and the run is started (the
durable write) before Slack gets its 200 (bot/start_in_time.py :func:`start_question`).

An event has no visible answer of its own, so what the person sees is said in the asking message's
thread, and only what is true: a started run needs no words, its first post in that thread (and, in a
DM, the pane's "is researching…" status) is the acknowledgement; a start slower than START_DEADLINE
is said to be queued, then what became of it; a refused question, or nothing started, is said plainly.
A retried delivery (``X-Slack-Retry-Num``) finds the run its first delivery started (the workflow id comes
from the message: slack_ui/ids.py) and says nothing more unless that start failed.

Slack's pages: the Events API and its retries https://docs.slack.dev/apis/events-api/ ; app_mention
https://docs.slack.dev/reference/events/app_mention ; message.im https://docs.slack.dev/reference/events/message.im ;
the agent messaging experience https://docs.slack.dev/ai/migrating-to-agent-messaging/ ;
assistant.threads.setStatus https://docs.slack.dev/reference/methods/assistant.threads.setStatus/ ,
setTitle https://docs.slack.dev/reference/methods/assistant.threads.setTitle/ .
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import structlog
from pydantic import ValidationError
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from temporalio.client import Client

from bot.people import People
from bot.start_in_time import ALREADY_STARTED, STARTED, STARTED_LATE, Start, start_question
from bot.under_way import UnderWay
from core.settings import Settings
from core.workspace_tokens import WorkspaceTokens
from slack_ui.ids import MalformedId, slack_id, workflow_id_for_message
from slack_ui.mrkdwn import escape, unescape
from workflows.models import SlackContext, SlackFileRef, clean_question

__all__ = [
    "RESEARCHING",
    "Asked",
    "asked_by",
    "question_in",
    "start_asked",
    "tell_in_thread",
]

log = structlog.get_logger(__name__)

RESEARCHING = "is researching…"  # the pane's status line: "ResearchBot is researching…"
MAX_ATTACHED = 10  # files of one message taken as sources (ResearchRequest.files' limit)
STATUS_WAIT = 1.0  # seconds a status or title call may take before the start's answer is given without it
QUEUED_HERE = (
    "⏳ Queued: the research service is slow. Your run will post here once it starts, or I'll say it could not."
)
HOW_TO_ASK = (
    "Ask me a question and I'll research it: a plan, live progress, then a draft with numbered sources for "
    "review, here in this thread. For example: _How does Temporal make workflows durable?_"
)


@dataclass(frozen=True)
class Asked:
    """Who asked what, where: one message, and the thread the run's messages will join."""

    team_id: str
    user_id: str
    channel_id: str
    ts: str
    thread_ts: str
    text: str
    in_dm: bool
    user_team: str | None = None  # the asker's own team, as the event names it (Slack Connect: not ours)
    files: tuple[SlackFileRef, ...] = ()  # attached to the message: the run reads them first

    @property
    def workflow_id(self) -> str:
        return workflow_id_for_message(self.team_id, self.user_id, self.channel_id, self.ts)

    def slack(self) -> SlackContext:
        return SlackContext(
            channel_id=self.channel_id, user_id=self.user_id, team_id=self.team_id, thread_ts=self.thread_ts
        )


def asked_by(body: Mapping[str, Any], event: Mapping[str, Any]) -> Asked:
    """The asking message of an app_mention or message event; MalformedId (answered 400) if it is not one."""
    fields = {key: event.get(key) for key in ("user", "channel", "ts")}
    if not all(isinstance(value, str) and value for value in fields.values()):
        raise MalformedId("the event has no user, channel or ts")
    team = event.get("team") or body.get("team_id")
    thread = event.get("thread_ts")
    user_team = event.get("user_team")
    return Asked(
        team_id=slack_id(team),
        user_id=str(fields["user"]),
        channel_id=str(fields["channel"]),
        ts=str(fields["ts"]),
        # In a thread already, the run joins it; else the asking message starts one.
        thread_ts=thread if isinstance(thread, str) and thread else str(fields["ts"]),
        text=str(event.get("text") or ""),
        in_dm=event.get("channel_type") == "im",
        user_team=user_team if isinstance(user_team, str) and user_team else None,
        files=attached_files(event.get("files")),
    )


def attached_files(files: object) -> tuple[SlackFileRef, ...]:
    """The ids and names of the files a message carries (the Events API's ``files``); others are left out.
    Only ids travel: the worker checks each file with files.info, in the question's conversation."""
    if not isinstance(files, list):
        return ()
    refs = []
    for file in files[:MAX_ATTACHED]:
        if not isinstance(file, dict):
            continue
        try:
            refs.append(SlackFileRef(id=file.get("id"), name=str(file.get("name") or "")[:255]))
        except ValidationError:
            continue  # not a file id: nothing to read
    return tuple(refs)


def question_in(text: str, bot_user_id: str | None) -> str:
    """The question in a message's text: the bot's own mentions (``<@U0BOT>``, ``<@U0BOT|name>``) taken
    out, Slack's entities undone."""
    if bot_user_id:
        text = re.sub(rf"<@{re.escape(bot_user_id)}(\|[^>]*)?>", " ", text)
    return " ".join(unescape(text).split())


async def start_asked(
    settings: Settings,
    temporal: Client,
    client: AsyncWebClient,
    asked: Asked,
    bot_user_id: str | None,
    under_way: UnderWay,
    tokens: WorkspaceTokens | None = None,
    people: People | None = None,
) -> Start | str:
    """Check the question and start its run (bounded by START_DEADLINE), before the event is acked.
    Returns the start, or what to say instead of starting (a refusal, how to ask)."""
    text = question_in(asked.text, bot_user_id)
    if text.lower() in ("", "help"):
        return HOW_TO_ASK
    try:
        question = clean_question(text)
    except ValueError as refused:
        return f"Sorry, I can't research that: {escape(str(refused))}."
    status = asyncio.ensure_future(_show_researching(client, asked, question)) if asked.in_dm else None
    start = await start_question(
        settings,
        temporal,
        asked.slack(),
        question,
        asked.workflow_id,
        under_way,
        tokens=tokens,
        people=people,
        user_team=asked.user_team,
        files=asked.files,
    )
    if status is not None:
        await asyncio.wait({status}, timeout=STATUS_WAIT)  # best effort: the status must not hold the ack
    return start


async def tell_in_thread(client: AsyncWebClient, asked: Asked, outcome: Start | str, retried: bool) -> None:
    """After the ack: say in the asking message's thread what the person must know, and only that."""
    if isinstance(outcome, str):
        if not retried:  # the first delivery said it already
            await _post(client, asked, outcome)
        return
    said = outcome.ack["text"]
    if outcome.refused:  # a cap: the asker's business alone
        if not retried:
            await _tell_privately(client, asked, said)
        return
    if said not in (STARTED, ALREADY_STARTED):
        await _post(client, asked, QUEUED_HERE if outcome.later is not None else said)
    if outcome.later is not None:
        later = (await outcome.later)["text"]
        if later not in (STARTED, STARTED_LATE):  # started: the run's first post says so
            await _post(client, asked, later)


async def _show_researching(client: AsyncWebClient, asked: Asked, question: str) -> None:
    """The DM pane's status line and the thread's title; best effort, never raises."""
    calls = (
        client.assistant_threads_setStatus(channel_id=asked.channel_id, thread_ts=asked.thread_ts, status=RESEARCHING),
        client.assistant_threads_setTitle(channel_id=asked.channel_id, thread_ts=asked.thread_ts, title=question[:80]),
    )
    for outcome in await asyncio.gather(*calls, return_exceptions=True):
        if isinstance(outcome, SlackApiError):
            log.info("asked.status_not_set", error=outcome.response.get("error"), channel=asked.channel_id)
        elif isinstance(outcome, BaseException):
            log.info("asked.status_not_set", error=repr(outcome), channel=asked.channel_id)


async def _tell_privately(client: AsyncWebClient, asked: Asked, text: str) -> None:
    if asked.in_dm:
        await _post(client, asked, text)
        return
    try:
        await client.chat_postEphemeral(
            channel=asked.channel_id, user=asked.user_id, thread_ts=asked.thread_ts, text=text
        )
    except SlackApiError as error:
        log.warning("asked.not_told", error=error.response.get("error"), channel=asked.channel_id, user=asked.user_id)


async def _post(client: AsyncWebClient, asked: Asked, text: str) -> None:
    try:
        await client.chat_postMessage(channel=asked.channel_id, thread_ts=asked.thread_ts, text=text)
    except SlackApiError as error:
        log.warning("asked.not_told", error=error.response.get("error"), channel=asked.channel_id, user=asked.user_id)
