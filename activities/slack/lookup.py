"""A run's messages in Slack: those posted so far by step key, and finding one an earlier attempt posted.

Posts and lookups go through ``joining``: where the bot is not in a public channel yet, it joins and calls again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

import structlog
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from temporalio import activity

from activities.slack.limits import slack_error_code
from activities.slack.step_posts import attempt_owner
from activities.slack.writes import SlackWrites
from slack_ui.ids import STEP_EVENT  # the metadata event_type; the bot reads it too (bot/from_thread.py)
from workflows.activity_io import ProgressInput
from workflows.models import RunStatus

__all__ = [
    "STEP_EVENT",
    "BotIdentity",
    "Run",
    "attempt_deadline",
    "find_posted",
    "joining",
    "may_have_posted_before",
    "step_metadata",
]

log = structlog.get_logger(__name__)
T = TypeVar("T")

_LOOKUP_PAGES = 10  # of 200 messages each
_CLOCK_SKEW_SECONDS = 60
# A write still held for its turn this long before the attempt's start-to-close timeout is withdrawn:
# Slack must have what the attempt sent before Temporal can start the next attempt, whose lookup
# (find_posted) would otherwise miss a post still on its way, and post it again.
SEND_MARGIN_SECONDS = 5.0


@dataclass
class Run:
    """One report being made: the input, the messages posted so far (step key -> ts), and the wall-clock
    time by which this attempt's writes must have gone (``attempt_deadline``)."""

    input: ProgressInput
    messages: dict[str, str]
    deadline: float | None = None
    owner: str = field(default_factory=attempt_owner)  # this attempt, for the step fence (step_posts.py)

    def time_left(self) -> float | None:
        """Seconds this attempt's writes may still wait for their turn (None: no limit)."""
        return None if self.deadline is None else max(0.0, self.deadline - time.time())

    @property
    def channel(self) -> str:
        assert self.input.slack is not None
        return self.input.slack.channel_id

    @property
    def status(self) -> RunStatus:
        return self.input.status

    @property
    def asked_in_thread(self) -> str | None:
        """The thread of the message that asked (a mention, a DM), which the run's messages join."""
        return self.input.slack.thread_ts if self.input.slack else None

    @property
    def root(self) -> str | None:
        """The thread the run's messages go in: the asking message's, else the root message's own."""
        return self.asked_in_thread or self.messages.get("root")


class BotIdentity:
    """Who the bot is in Slack (``auth.test``, asked once): a lookup trusts only messages it posted."""

    def __init__(self, client: AsyncWebClient) -> None:
        self._client = client
        self._ids: tuple[str, str] | None = None
        self._lock = asyncio.Lock()

    async def posted(self, message: Mapping[str, Any]) -> bool:
        if self._ids is None:
            async with self._lock:
                if self._ids is None:
                    answer = await self._client.auth_test()
                    self._ids = (str(answer.get("user_id") or ""), str(answer.get("bot_id") or ""))
        user, bot = self._ids
        return bool(user and message.get("user") == user) or bool(bot and message.get("bot_id") == bot)


def step_metadata(run: Run, key: str) -> dict[str, Any]:
    """The metadata every post carries: what find_posted looks for."""
    return {"event_type": STEP_EVENT, "event_payload": {"workflow_id": run.status.workflow_id, "step": key}}


def attempt_deadline() -> float | None:
    """When this activity attempt must stop sending: ``SEND_MARGIN_SECONDS`` before its start-to-close
    timeout, after which Temporal may run another attempt (None outside an activity)."""
    if not activity.in_activity():
        return None
    info = activity.info()
    if info.start_to_close_timeout is None:
        return None
    return info.started_time.timestamp() + info.start_to_close_timeout.total_seconds() - SEND_MARGIN_SECONDS


def may_have_posted_before() -> bool:
    """Only a retry can find its own message already posted; outside an activity, assume a retry."""
    return not activity.in_activity() or activity.info().attempt > 1


async def find_posted(
    client: AsyncWebClient, reads: SlackWrites, run: Run, key: str, thread: bool, bot: BotIdentity
) -> str | None:
    """The ts of this run's message for ``key`` if an earlier attempt posted it: among the thread's
    replies, or for the root among the channel's messages since this activity was first scheduled
    (``oldest``, so however busy the channel, the lookup sees every message that attempt could have posted).
    Only the bot's own messages count: anyone may post a message with our metadata."""
    cursor = None
    since = _first_scheduled()
    for _ in range(_LOOKUP_PAGES):
        if thread:
            method = "conversations.replies"
            call = partial(client.conversations_replies, ts=run.root)
        else:
            method, call = "conversations.history", partial(client.conversations_history, oldest=since)
        fetch = partial(call, channel=run.channel, include_all_metadata=True, limit=200, cursor=cursor)
        page = await reads.read(
            method, run.channel, partial(joining, client, run.channel, fetch), within=run.time_left()
        )
        for found in page.get("messages", []):
            metadata = found.get("metadata") or {}
            payload = metadata.get("event_payload") or {}
            if (
                metadata.get("event_type") == STEP_EVENT
                and payload.get("step") == key
                and payload.get("workflow_id") == run.status.workflow_id
                and await bot.posted(found)
            ):
                return found["ts"]
        if not (cursor := (page.get("response_metadata") or {}).get("next_cursor")):
            break
    return None


def _first_scheduled() -> str | None:
    """When the first attempt of this activity was scheduled, less a minute for clocks that disagree."""
    if not activity.in_activity():
        return None
    return f"{max(0.0, activity.info().scheduled_time.timestamp() - _CLOCK_SKEW_SECONDS):.6f}"


async def joining(client: AsyncWebClient, channel: str, call: Callable[[], Awaitable[T]]) -> T:
    """Make a call; if the bot is not in the channel, join it (public channels only) and call again."""
    try:
        return await call()
    except SlackApiError as error:
        if slack_error_code(error) != "not_in_channel" or not await _join(client, channel):
            raise
    return await call()


async def _join(client: AsyncWebClient, channel: str) -> bool:
    try:
        await client.conversations_join(channel=channel)
    except SlackApiError as error:
        if error.response.status_code != 200:
            raise
        log.info("slack_join_failed", channel=channel, error=slack_error_code(error))
        return False
    return True
