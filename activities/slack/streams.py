"""A run's research progress as one streamed Slack message per round, where the workspace streams.

Slack's streaming messages (chat.startStream, chat.appendStream, chat.stopStream) show task cards
that change in place: https://docs.slack.dev/reference/methods/chat.startStream,
https://docs.slack.dev/reference/methods/chat.appendStream, https://docs.slack.dev/reference/methods/chat.stopStream.
Each report sends the round's whole state (slack_ui/stream.py): the same task ids with their
current status, which is safe to send twice.

Durability: the stream's ts is kept in the run's messages under ``progress-stream-<round>``, which the
workflow passes back with every report, so a retried report appends to that stream. startStream takes no
metadata, so a retry that never heard its start answered looks in the thread for the bot's one message
without a step's metadata, posted since its first attempt was scheduled, and adopts it.

Where streaming is refused (an older workspace answers ``unknown_method``; the errors Slack documents
for startStream are below), or a stream cannot be appended to any more (stopped, expired), the run
is marked ``progress-mode: update`` and shows the chat.update checklist from then on. So it is when
startStream's budget (Tier 2, activities/slack/limits.py) has no turn for it within ``START_WAIT``
seconds: a run is never held up for its progress display.

Budgets: the round's last state goes as a final append (Tier 4, before other runs' intermediate
appends), and the stop after it (Tier 2), both in the background: neither holds the draft's report.
"""

from __future__ import annotations

import asyncio
from enum import StrEnum
from typing import Any

import structlog
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from temporalio import activity

from activities.slack.limits import digest, slack_error_code
from activities.slack.lookup import STEP_EVENT, BotIdentity, Run, joining, may_have_posted_before
from activities.slack.step_posts import StepPosts
from activities.slack.writes import SlackWrites, Superseded, TooLate
from slack_ui.stream import is_finished, progress_chunks
from workflows.models import ResearchResult

__all__ = ["MODE_KEY", "ProgressMode", "ProgressStream", "stream_key"]

log = structlog.get_logger(__name__)

MODE_KEY = "progress-mode"  # in a run's messages: "update" once the run shows the checklist instead


class ProgressMode(StrEnum):
    STREAM = "stream"  # a streamed message where the workspace takes it, else the checklist
    UPDATE = "update"  # always the chat.update checklist


# startStream answers that mean "not here": the workspace or the channel does not stream for this app.
# https://docs.slack.dev/reference/methods/chat.startStream (errors); unknown_method, not_allowed_token_type
# and missing_scope are Slack's common errors (https://docs.slack.dev/apis/web-api/#errors).
_REFUSED = frozenset(
    {
        "unknown_method",
        "not_allowed_token_type",
        "missing_scope",
        "channel_type_not_supported",
        "messages_tab_disabled",
        "missing_recipient_team_id",
        "missing_recipient_user_id",
        "user_not_found",
        "invalid_chunks",
        "restricted_action",
        "restricted_action_non_threadable_channel",
        "restricted_action_read_only_channel",
        "restricted_action_thread_locked",
    }
)
# appendStream / stopStream answers for a stream that is gone: stopped by someone, or past streaming.
# https://docs.slack.dev/reference/methods/chat.appendStream, https://docs.slack.dev/reference/methods/chat.stopStream
_GONE = frozenset(
    {
        "message_not_in_streaming_state",
        "stopped_by_user",
        "message_not_found",
        "message_not_owned_by_app",
        "streaming_mode_mismatch",
        "invalid_chunks",
    }
)
_CLOCK_SKEW_SECONDS = 60
START_WAIT = 2.0  # seconds a run's report waits for startStream's turn before showing the checklist instead
_STOPPED = "stopped"  # kept beside the ts: this round's stream was stopped by us


def _first_scheduled() -> str | None:
    """When this report's first attempt was scheduled, less a minute for clocks that disagree."""
    if not activity.in_activity():
        return None
    return f"{max(0.0, activity.info().scheduled_time.timestamp() - _CLOCK_SKEW_SECONDS):.6f}"


def stream_key(run: Run) -> str:
    return f"progress-stream-{max(run.status.draft_round, 1)}"


class ProgressStream:
    """Shows a run's progress as a streamed message; answers False where the checklist must do instead."""

    def __init__(
        self,
        client: AsyncWebClient,
        writes: SlackWrites,
        bot: BotIdentity,
        mode: ProgressMode = ProgressMode.STREAM,
        steps: StepPosts | None = None,
    ) -> None:
        self._client, self._writes, self._bot, self._mode = client, writes, bot, mode
        self._steps = steps or StepPosts(None)  # which attempt may start each round's stream
        self._sent: dict[str, str] = {}  # stream ts -> digest of the chunks last sent there by this worker
        self._finished: set[str] = set()  # streams this worker has given their last state and stop
        self._finishing: set[asyncio.Task[None]] = set()

    async def show(self, run: Run, result: ResearchResult | None = None) -> bool:
        """Bring this round's stream up to date, stopping it once the draft is ready or the run is over.
        False: this run shows the checklist (the setting, or Slack refused the stream)."""
        if self._mode is ProgressMode.UPDATE or run.messages.get(MODE_KEY) == ProgressMode.UPDATE:
            return False
        key = stream_key(run)
        chunks = progress_chunks(run.status, result)
        finished = result is not None or is_finished(run.status)
        if run.messages.get(f"{key}.state") == _STOPPED:
            return True
        try:
            ts = run.messages.get(key) or await self._find(run, key)
            if ts is None:
                if finished:
                    return True  # the round ended before its progress was shown: nothing to stream now
                ts = await self._start(run, key, chunks)
                if ts is None:
                    return False
                run.messages[key] = ts
            elif finished:
                run.messages[key] = ts
                self._finish_soon(run, ts, chunks)  # in the background: it must not hold the draft's report
            else:
                run.messages[key] = ts
                await self._append(run, ts, chunks)
        except SlackApiError as error:
            if slack_error_code(error) not in _GONE:
                raise
            if finished and key in run.messages:
                # Nothing more to show in it: an earlier attempt stopped it, or it ended on its own.
                run.messages[f"{key}.state"] = _STOPPED
                return True
            log.info("slack_stream_gone", workflow_id=run.status.workflow_id, error=slack_error_code(error))
            run.messages[MODE_KEY] = ProgressMode.UPDATE
            return False
        return True

    def _finish_soon(self, run: Run, ts: str, chunks: list[dict[str, Any]]) -> None:
        """The round's last state, then the stop, in the background (once per stream on this worker)."""
        if ts in self._finished:
            return
        self._finished.add(ts)
        task = asyncio.create_task(self._finish(run, ts, chunks))
        self._finishing.add(task)
        task.add_done_callback(self._finishing.discard)

    async def settle(self) -> None:
        """Wait for the final appends and stops under way (tests, shutdown)."""
        while self._finishing:
            await asyncio.gather(*self._finishing, return_exceptions=True)

    async def _finish(self, run: Run, ts: str, chunks: list[dict[str, Any]]) -> None:
        try:
            await self._append(run, ts, chunks, final=True)
            await self._writes.write(
                "chat.stopStream",
                run.channel,
                lambda: self._client.chat_stopStream(channel=run.channel, ts=ts),
                waited=False,
                final=True,
            )
        except SlackApiError as error:
            if slack_error_code(error) not in _GONE:  # gone: stopped already, or ended on its own
                code = slack_error_code(error)
                log.warning("slack_stream_not_stopped", workflow_id=run.status.workflow_id, error=code)
                self._finished.discard(ts)  # a later report tries again

    async def _start(self, run: Run, key: str, chunks: list[dict[str, Any]]) -> str | None:
        slack = run.input.slack
        assert slack is not None
        try:
            # The stream's first message is a post the run waits for; its appends then only inform.
            response = await self._writes.write(
                "chat.startStream",
                run.channel,
                lambda: self._steps.fenced(
                    run.status.workflow_id,
                    key,
                    run.owner,
                    lambda: joining(
                        self._client,
                        run.channel,
                        lambda: self._client.chat_startStream(
                            channel=run.channel,
                            thread_ts=run.root or "",
                            # Required when streaming to channels (chat.startStream, arguments).
                            recipient_user_id=slack.user_id,
                            recipient_team_id=slack.team_id,
                            task_display_mode="plan",  # all the tasks together in one plan block
                            chunks=chunks,
                        ),
                    ),
                ),
                waited=True,
                within=min(START_WAIT, run.time_left() or START_WAIT),
            )
        except TooLate:
            log.info("slack_stream_budget_busy", workflow_id=run.status.workflow_id)
            run.messages[MODE_KEY] = ProgressMode.UPDATE
            return None
        except SlackApiError as error:
            if slack_error_code(error) not in _REFUSED:
                raise
            log.info("slack_stream_refused", workflow_id=run.status.workflow_id, error=slack_error_code(error))
            run.messages[MODE_KEY] = ProgressMode.UPDATE
            return None
        ts = str(response["ts"])
        self._sent[ts] = digest({"chunks": chunks})
        return ts

    async def _append(self, run: Run, ts: str, chunks: list[dict[str, Any]], *, final: bool = False) -> None:
        sent = digest({"chunks": chunks})
        if self._sent.get(ts) == sent:
            return  # this worker already sent exactly this
        try:
            # An append only informs, and carries the whole state: a newer one on its way supersedes it.
            await self._writes.write(
                "chat.appendStream",
                run.channel,
                lambda: self._client.chat_appendStream(channel=run.channel, ts=ts, chunks=chunks),
                waited=False,
                message=(run.channel, ts),
                final=final,
            )
        except Superseded:
            return
        self._sent[ts] = sent

    async def _find(self, run: Run, key: str) -> str | None:
        """The stream an earlier attempt of this report started: as recorded (activities/slack/step_posts.py),
        or where that cannot say, the bot's message in the thread that carries no step's metadata,
        posted since the first attempt."""
        claim = await self._steps.claim(run.status.workflow_id, key, run.owner)
        if claim.posted or (claim.known and claim.fresh):
            return claim.ts
        if not may_have_posted_before() or run.root is None:
            return None
        page = await self._writes.read(
            "conversations.replies",
            run.channel,
            lambda: joining(
                self._client,
                run.channel,
                lambda: self._client.conversations_replies(
                    channel=run.channel, ts=run.root, include_all_metadata=True, limit=200, oldest=_first_scheduled()
                ),
            ),
            within=run.time_left(),
        )
        known = set(run.messages.values())
        for found in page.get("messages", []):
            unknown = found.get("ts") != run.root and found.get("ts") not in known
            stepped = (found.get("metadata") or {}).get("event_type") == STEP_EVENT
            if unknown and not stepped and await self._bot.posted(found):
                return str(found["ts"])
        return None
