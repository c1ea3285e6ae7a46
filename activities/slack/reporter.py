"""Report a research run in Slack: the root message in the channel; the plan, live progress,
drafts with decision buttons, reminders and the final report in its thread.

Posting is idempotent. Every post carries message metadata naming the run and the step, and
a retried activity looks for its step's message before posting it (activities/slack/lookup.py),
so a response lost after Slack accepted a post never shows the message twice. Failures reach
Temporal classified: HTTP 429 waits for Retry-After, refusals (bad token, bad blocks) are not retried.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import httpx
import structlog
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from temporalio.exceptions import ApplicationError

from activities import errors
from activities.progress import ProgressActivities, Reporter
from activities.slack.canvases import ReportCanvas
from activities.slack.limits import digest, slack_error_code, slack_failure
from activities.slack.lookup import (
    STEP_EVENT,
    BotIdentity,
    Run,
    attempt_deadline,
    find_posted,
    joining,
    may_have_posted_before,
    step_metadata,
)
from activities.slack.step_posts import ClaimLost, StepPosts
from activities.slack.streams import ProgressMode, ProgressStream
from activities.slack.writes import SlackWrites, Superseded, TooLate
from core.response_urls import ResponseUrls, may_post_to
from core.run_threads import RunThreads
from slack_ui import blocks, canvas, thread
from slack_ui.replies import cannot_post_message, decision_not_applied
from slack_ui.stream import is_finished
from workflows.activity_io import ProgressInput, ProgressKind, ProgressReceipt
from workflows.models import DecisionRecord, Draft, Outcome, ResearchResult, RunStatus, Stage

__all__ = ["STEP_EVENT", "SlackProgressActivities", "SlackReporter"]

log = structlog.get_logger(__name__)

_NO_ACCESS = frozenset({"channel_not_found", "not_in_channel", "is_archived"})
REMEMBERED_REFRESHES = 10_000  # messages whose newest refresh this worker remembers
_MUST_BE_SEEN = frozenset({ProgressKind.DRAFT, ProgressKind.FINISHED})  # STARTED tells the requester itself


def _last_decision(status: RunStatus) -> DecisionRecord | None:
    return next((d for d in reversed(status.decisions) if d.applied), None)


class SlackReporter:
    """Turns progress reports into Slack messages. Make one per worker: its scheduler
    (activities/slack/writes.py) orders the writes of all runs on the worker within Slack's rate
    budget, what people wait for first, and remembers what it last sent to each message."""

    def __init__(
        self,
        client: AsyncWebClient,
        fallback: Reporter,
        http: httpx.AsyncClient | None = None,
        *,
        writes: SlackWrites | None = None,
        progress: ProgressMode = ProgressMode.STREAM,
        report_max_messages: int = 2,
        threads: RunThreads | None = None,
        response_urls: ResponseUrls | None = None,
        steps: StepPosts | None = None,
    ) -> None:
        self._client, self._fallback = client, fallback
        self._steps = steps or StepPosts(None)  # which attempt may post each step, and its ts once posted
        self._threads = threads  # where the bot finds a thread's run without reading Slack
        self._response_urls = response_urls  # the commands' response_urls, as the bot kept them
        self._http = http or httpx.AsyncClient(timeout=10)
        self._writes = writes or SlackWrites()
        self._bot = BotIdentity(client)  # a lookup trusts only the bot's own messages
        self._stream = ProgressStream(
            client, self._writes, self._bot, progress, self._steps
        )  # SLACK_PROGRESS: stream, else the checklist
        self._canvas = ReportCanvas(client, self._writes)
        self._report_max_messages = report_max_messages  # SLACK_REPORT_MAX_MESSAGES: longer reports are canvases
        self._refreshing: set[asyncio.Task[None]] = set()
        self._refreshes = itertools.count()  # refreshes in the order they were asked for
        self._refreshed: OrderedDict[tuple[str, str], int] = OrderedDict()  # message -> newest refresh
        self._updating: dict[tuple[str, str, str], asyncio.Future[None]] = {}  # (channel, ts, content)

    async def report(self, input: ProgressInput) -> ProgressReceipt:
        if input.slack is None:
            return await self._fallback.report(input)
        run = Run(input, dict(input.messages), attempt_deadline())
        if input.kind is not ProgressKind.STARTED and run.messages.get("root") is None:
            log.info(
                "slack_report_skipped",
                reason="no thread: the root message was never posted",
                workflow_id=input.status.workflow_id,
                kind=input.kind.value,
            )
            return ProgressReceipt(messages=run.messages)
        steps: dict[ProgressKind, Callable[[Run], Awaitable[None]]] = {
            ProgressKind.STARTED: self._started,
            ProgressKind.PLAN: self._plan,
            ProgressKind.PLAN_REVIEWED: self._plan_reviewed,
            ProgressKind.PROGRESS: self._progress,
            ProgressKind.DRAFT: self._draft,
            ProgressKind.DECISION: self._decision,
            ProgressKind.REMINDER: self._reminder,
            ProgressKind.FINISHED: self._finished,
            ProgressKind.REFUSED: self._refused,
        }
        try:
            await steps[input.kind](run)
        except SlackApiError as error:
            if input.kind in _MUST_BE_SEEN and slack_error_code(error) in _NO_ACCESS:
                # Refused for good: the requester hears it in private, and the run ends clearly.
                await self._tell_requester(run, cannot_post_message())
            raise slack_failure(error) from error
        except TooLate:
            # Withdrawn before it was sent, so the next attempt's lookup cannot miss it: no doubled post.
            raise ApplicationError(
                "Slack's rate budget held a write past this attempt's deadline; the next attempt sends it",
                type="SlackBusy",
            ) from None
        except ClaimLost as lost:
            # Temporal gave up on this attempt (a heartbeat or start-to-close timeout) while it still ran:
            # a newer one owns the step, so this one sends nothing more.
            raise ApplicationError(f"a newer attempt posts step {lost}; this one stopped", type="Superseded") from None
        return ProgressReceipt(messages=run.messages)

    # ------------------------------------------------------------ the steps

    async def _started(self, run: Run) -> None:
        # Asked by a message (a mention, a DM), the root message answers it in its thread; else in the channel.
        in_thread = run.asked_in_thread is not None
        try:
            await self._post(run, "root", thread.root_message(run.status), thread=in_thread)
            await self._remember_thread(run)
        except SlackApiError as error:
            if slack_error_code(error) not in _NO_ACCESS:
                raise
            log.warning(
                "slack_cannot_post",
                channel=run.channel,
                error=slack_error_code(error),
                workflow_id=run.status.workflow_id,
            )
            await self._tell_requester(run, cannot_post_message())

    async def _remember_thread(self, run: Run) -> None:
        """The run's thread, for the bot (core/run_threads.py). Best effort: a thread not recorded is
        found by reading it, as before."""
        slack = run.input.slack
        if self._threads is None or slack is None or run.root is None:
            return
        try:
            await asyncio.to_thread(
                self._threads.remember, slack.team_id or "", slack.channel_id, run.root, run.status.workflow_id
            )
        except Exception as error:
            log.warning("slack_thread_not_recorded", workflow_id=run.status.workflow_id, error=str(error))

    async def _plan(self, run: Run) -> None:
        await self._post(run, f"plan-{run.status.draft_round}", thread.plan_message(run.status))
        if run.status.stage is Stage.AWAITING_PLAN_REVIEW:  # a plan under review may still change
            self._refresh_soon(run)  # the root and the checklist say the run waits for the review
        else:
            await self._stream.show(run)  # where the workspace streams, the round's task cards start here

    async def _plan_reviewed(self, run: Run) -> None:
        """The plan's buttons give way to who answered, and the plan to the edited one."""
        status = run.status
        record = next((r for r in reversed(status.plan_reviews) if r.applied), None)
        if record is not None:
            closed = thread.plan_message(status, closed=thread.plan_review_line(record))
            await self._update(run, f"plan-{status.plan_review_round}", closed, waited=True)
        await self._stream.show(run)
        self._refresh_soon(run)

    async def _progress(self, run: Run) -> None:
        if not await self._stream.show(run) and "progress" not in run.messages:
            await self._post(run, "progress", thread.progress_message(run.status))
        self._refresh_soon(run)

    async def _draft(self, run: Run) -> None:
        draft = run.status.draft
        if draft is None:
            raise errors.permanent("a DRAFT report needs status.draft")
        parts = thread.draft_messages(run.status.workflow_id, run.status.question, draft)
        await self._post_parts(run, f"draft-{draft.round}", parts, main=len(parts) - 1)
        await self._stream.show(run)  # the draft is ready: the round's stream stops
        self._refresh_soon(run)

    async def _decision(self, run: Run) -> None:
        record, draft = _last_decision(run.status), run.status.draft
        if record and draft and draft.round == record.draft_round:
            await self._close_draft(run, draft, thread.decision_line(record))
        else:
            log.warning("slack_decision_without_its_draft", workflow_id=run.status.workflow_id)
        self._refresh_soon(run)

    async def _reminder(self, run: Run) -> None:
        draft = run.status.draft
        if draft is not None and f"draft-{draft.round}" not in run.messages:
            # The draft's own post has not got through yet: the reminder brings it (looking first, so a
            # draft that did get through meanwhile is not posted twice).
            parts = thread.draft_messages(run.status.workflow_id, run.status.question, draft)
            await self._post_parts(run, f"draft-{draft.round}", parts, main=len(parts) - 1, look=True)
        message = thread.reminder_message(run.status, run.input.approvers)
        await self._post(run, f"reminder-{run.status.draft_round}", message)

    async def _refused(self, run: Run) -> None:
        """An ephemeral note in the thread for whoever sent a queued decision that was refused; best effort."""
        record = run.input.refused or run.input.refused_review
        if record is None:
            raise errors.permanent("a REFUSED report needs the refused decision")
        what = "decision" if run.input.refused else "plan review"
        message = decision_not_applied(record.reason or "the run was no longer waiting for it", what)
        user = record.decided_by if isinstance(record, DecisionRecord) else record.reviewed_by
        try:
            await self._writes.write(
                "chat.postEphemeral",
                run.channel,
                lambda: self._client.chat_postEphemeral(
                    channel=run.channel,
                    user=user,
                    thread_ts=run.root,
                    text=message["text"],
                    blocks=message["blocks"],
                ),
                waited=True,
                within=run.time_left(),
            )
        except SlackApiError as error:
            log.warning("slack_refusal_not_told", workflow_id=run.status.workflow_id, error=slack_error_code(error))

    async def _finished(self, run: Run) -> None:
        result = run.input.result
        if result is None:
            raise errors.permanent("a FINISHED report needs its result")
        # The report first: it is what people wait for; closing the draft and the status can follow.
        if result.outcome is Outcome.APPROVED:
            parts = thread.final_report_messages(result)
            if len(parts) > self._report_max_messages and (url := await self._canvas.publish(run, result)):
                parts = [canvas.summary_message(result, url, thread.report_tail(result))]
            await self._post_parts(run, "final", parts, main=0, broadcast=True)
        else:
            await self._post(run, "finished", thread.outcome_notice(result))
        status = run.status
        if status.plan_review_round and not any(r.applied for r in status.plan_reviews):
            # The run ended while its plan awaited review: its buttons go.
            closed = thread.plan_message(status, closed=thread.plan_closed_line(result.outcome))
            await self._update(run, f"plan-{status.plan_review_round}", closed, waited=True)
        if draft := run.status.draft:
            record = _last_decision(run.status)
            if record is not None and record.draft_round == draft.round:
                await self._close_draft(run, draft, thread.decision_line(record))
            else:
                await self._close_draft(run, draft, thread.closed_line(result.outcome))
        await self._stream.show(run, result)  # a run that ended mid-round stops its stream
        # The checklist's and the root's last states inform: they follow in the background, and a
        # backlog of other runs' refreshes cannot hold this activity past its timeout.
        self._refresh_soon(run, result)

    def _refresh_soon(self, run: Run, result: ResearchResult | None = None) -> None:
        """Refresh the status messages in the background: they are for watching, and waiting for
        their turn under Slack's update limit must not hold up the run's next step. A later
        refresh of the same message supersedes this one while it waits (see SlackWrites)."""
        task = asyncio.create_task(self._refresh_quietly(run, result, next(self._refreshes)))
        self._refreshing.add(task)
        task.add_done_callback(self._refreshing.discard)

    async def settle(self) -> None:
        """Wait for background refreshes (tests, shutdown)."""
        while self._refreshing:
            await asyncio.gather(*self._refreshing)
        await self._stream.settle()

    async def _refresh_quietly(self, run: Run, result: ResearchResult | None, number: int) -> None:
        try:
            await self._refresh(run, result, number)
        except Exception:  # the next report refreshes again; a log line is enough
            log.warning("slack_refresh_failed", workflow_id=run.status.workflow_id, exc_info=True)

    async def _refresh(self, run: Run, result: ResearchResult | None, number: int) -> None:
        """Bring the progress checklist and the root's status line up to date: informing writes. A
        refresh made later (a higher ``number``) may reach a message first, while this one still waits
        on the other; then this one leaves that message alone, so an older status never overwrites a newer.
        A run whose draft is out shows its progress's last state first (SlackWrites: final)."""
        done = result is not None or is_finished(run.status)
        for key, message, final in (
            ("progress", thread.progress_message(run.status), done),
            ("root", thread.root_message(run.status, result), result is not None),
        ):
            ts = run.messages.get(key)
            target = (run.channel, ts)
            if ts is None or self._refreshed.get(target, -1) > number:
                continue
            self._refreshed[target] = number
            self._refreshed.move_to_end(target)
            while len(self._refreshed) > REMEMBERED_REFRESHES:
                self._refreshed.popitem(last=False)
            await self._update(run, key, message, waited=False, final=final)

    async def _close_draft(self, run: Run, draft: Draft, line: str) -> None:
        parts = thread.draft_messages(run.status.workflow_id, run.status.question, draft, closed=line)
        await self._update(run, f"draft-{draft.round}", parts[-1], waited=True)

    # ------------------------------------------------------------ posting, once

    async def _post_parts(
        self, run: Run, key: str, parts: list[blocks.Message], *, main: int, broadcast: bool = False, look: bool = False
    ) -> None:
        """Post a message spread over parts; ``main`` gets ``key``, the others ``key.partN``."""
        for n, part in enumerate(parts):
            part_key = key if n == main else f"{key}.part{n + 1}"
            await self._post(run, part_key, part, broadcast=broadcast and n == 0, look=look)

    async def _post(
        self,
        run: Run,
        key: str,
        message: blocks.Message,
        *,
        thread: bool = True,
        broadcast: bool = False,
        look: bool = False,
        waited: bool = True,
    ) -> str:
        """Post once. The step is claimed for this attempt first (activities/slack/step_posts.py): posted
        already, its ts is taken as is; claimed by no attempt before, it cannot be in Slack. Otherwise
        (``look``, a retried activity, no database) this looks in Slack for what an earlier try posted."""
        if key in run.messages:
            return run.messages[key]
        claim = await self._steps.claim(run.status.workflow_id, key, run.owner)
        if claim.posted:
            assert claim.ts is not None
            run.messages[key] = claim.ts
            return claim.ts
        unsure = not claim.known or not claim.fresh
        if (
            unsure
            and (look or may_have_posted_before())
            and (ts := await find_posted(self._client, self._writes, run, key, thread, self._bot))
        ):
            run.messages[key] = ts
            await self._record_sent(run, key, ts)
            return ts
        metadata = step_metadata(run, key)
        where: dict[str, Any] = {"thread_ts": run.root, "reply_broadcast": broadcast or None} if thread else {}

        async def send() -> Any:
            return await self._steps.fenced(
                run.status.workflow_id,
                key,
                run.owner,
                lambda: joining(
                    self._client,
                    run.channel,
                    lambda: self._client.chat_postMessage(
                        channel=run.channel, text=message["text"], blocks=message["blocks"], metadata=metadata, **where
                    ),
                ),
            )

        response = await self._writes.write(
            "chat.postMessage", run.channel, send, waited=waited, within=run.time_left()
        )
        ts = run.messages[key] = response["ts"]
        self._writes.sent((run.channel, ts), digest(message))
        return ts

    async def _record_sent(self, run: Run, key: str, ts: str) -> None:
        await self._steps.sent(run.status.workflow_id, key, run.owner, ts)

    async def _update(self, run: Run, key: str, message: blocks.Message, *, waited: bool, final: bool = False) -> None:
        """chat.update a posted message, unless this worker already sent it exactly this."""
        ts = run.messages.get(key)
        content = digest(message)
        if ts is None or self._writes.already_sent((run.channel, ts), content):
            return
        same = (run.channel, ts, content)
        pending = self._updating.get(same)  # the same update on its way already (a decision, then the finish)?
        if pending is None:
            pending = self._updating[same] = asyncio.ensure_future(
                self._send_update(run, ts, message, content, waited=waited, final=final)
            )
            pending.add_done_callback(lambda _: self._updating.pop(same, None))
        await asyncio.shield(pending)

    async def _send_update(
        self, run: Run, ts: str, message: blocks.Message, content: str, *, waited: bool, final: bool
    ) -> None:
        try:
            await self._writes.write(
                "chat.update",
                run.channel,
                lambda: self._client.chat_update(
                    channel=run.channel, ts=ts, text=message["text"], blocks=message["blocks"]
                ),
                waited=waited,
                message=(run.channel, ts),
                final=final,
                within=run.time_left() if waited else None,
                reported_at=run.input.reported_at,
            )
        except Superseded:
            return  # a newer state of the same message came in while this one waited
        self._writes.sent((run.channel, ts), content)

    async def _tell_requester(self, run: Run, message: blocks.Message) -> None:
        """An ephemeral answer through the command's response_url, as the bot kept it (core/response_urls.py),
        and only on Slack's hosts; best effort, never raises."""
        workflow_id = run.status.workflow_id
        url = await self._response_url(workflow_id)
        if not url:
            log.warning("slack_requester_not_told", reason="no response_url, or it expired", workflow_id=workflow_id)
            return
        if not may_post_to(url, self._client.base_url):
            host = urlsplit(url).hostname
            log.warning("slack_requester_not_told", reason="not a Slack host", host=host, workflow_id=workflow_id)
            return
        try:
            response = await self._http.post(url, json={"response_type": "ephemeral", **message})
            response.raise_for_status()
        except httpx.HTTPError as error:
            log.warning("slack_requester_not_told", reason=str(error), workflow_id=workflow_id)

    async def _response_url(self, workflow_id: str) -> str | None:
        if self._response_urls is None:
            return None
        try:
            return await asyncio.to_thread(self._response_urls.url_of, workflow_id)
        except Exception as error:  # the database is down: the run goes on without the private word
            log.warning("slack_response_url_unreadable", workflow_id=workflow_id, error=str(error) or repr(error))
            return None


# The report_progress activity is the same whichever reporter is behind it.
SlackProgressActivities = ProgressActivities
