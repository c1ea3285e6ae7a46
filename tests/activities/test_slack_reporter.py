"""The Slack reporter end to end against the sandbox Slack: a run's thread, retries, rate limits, no access."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from slack_sdk.web.async_client import AsyncWebClient
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.slack import STEP_EVENT, SlackProgressActivities, SlackReporter
from activities.slack_limits import SlackPacer, digest
from core.settings import Settings
from sandbox import SlackApiServer, Workspace
from slack_ui.client import build_slack_client
from workflows.activity_io import ProgressInput, ProgressKind, ProgressReceipt
from workflows.models import (
    DecisionKind,
    DecisionRecord,
    Draft,
    Outcome,
    ResearchResult,
    RunStatus,
    SlackContext,
    Source,
    Stage,
    TokenUsage,
)

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
ALICE, BOB = "UALICE", "UBOB"


class RecordingReporter:
    """Stands in for the logging reporter that runs without Slack get."""

    def __init__(self) -> None:
        self.inputs: list[ProgressInput] = []

    async def report(self, input: ProgressInput) -> ProgressReceipt:
        self.inputs.append(input)
        return ProgressReceipt()


@pytest.fixture
def slack() -> Iterator[SlackApiServer]:
    workspace = Workspace()
    workspace.add_user("alice", id=ALICE)
    workspace.add_user("bob", id=BOB)
    workspace.add_channel("research", id="CRESEARCH", members=[ALICE, BOB])  # public; the bot never joined
    workspace.add_channel("secret", id="CSECRET", private=True, members=[ALICE])
    with SlackApiServer(workspace) as server:
        yield server


@pytest.fixture
async def reporter(slack: SlackApiServer) -> AsyncIterator[SlackReporter]:
    client = AsyncWebClient(token=slack.workspace.bot_token, base_url=slack.base_url, retry_handlers=[])
    async with httpx.AsyncClient() as http:
        yield SlackReporter(client, RecordingReporter(), http, pacer=SlackPacer(post_interval=0, update_interval=0))


class Run:
    """Sends reports the way the workflow does: it keeps the receipts' messages and passes them back."""

    def __init__(self, reporter: SlackReporter, slack: SlackContext) -> None:
        self.reporter, self.slack = reporter, slack
        self.messages: dict[str, str] = {}
        self.status = RunStatus(
            workflow_id="research-1", question="Is <!channel> safe?", requested_by=ALICE, stage=Stage.STARTING
        )

    def input(self, kind: ProgressKind, **changes) -> ProgressInput:
        result = changes.pop("result", None)
        self.status = self.status.model_copy(update=changes)
        return ProgressInput(
            kind=kind, status=self.status, slack=self.slack, approvers=[BOB], messages=self.messages, result=result
        )

    async def send(self, kind: ProgressKind, **changes) -> ProgressReceipt:
        receipt = await self.reporter.report(self.input(kind, **changes))
        self.messages.update(receipt.messages)
        return receipt


def context_in(channel: str = "CRESEARCH", response_url: str | None = None) -> SlackContext:
    return SlackContext(channel_id=channel, user_id=ALICE, response_url=response_url)


def thread_of(slack: SlackApiServer, run: Run) -> list[dict]:
    return slack.workspace.replies(run.slack.channel_id, run.messages["root"])


def texts(value) -> list[str]:
    if isinstance(value, dict):
        return [t for k, v in value.items() for t in ([v] if k == "text" and isinstance(v, str) else texts(v))]
    return [t for v in value for t in texts(v)] if isinstance(value, list) else []


def all_text(message: dict) -> str:
    """The text of a message's blocks, joined."""
    return " ".join(texts(message.get("blocks", [])))


def decision(kind: DecisionKind, round: int = 1, by: str = BOB) -> DecisionRecord:
    return DecisionRecord(kind=kind, draft_round=round, decided_by=by, at=NOW, via="update")


def result(outcome: Outcome, decisions: list[DecisionRecord]) -> ResearchResult:
    return ResearchResult(
        workflow_id="research-1",
        question="Is <!channel> safe?",
        requested_by=ALICE,
        outcome=outcome,
        answer="**Yes**, mostly [1].",
        steps_taken=6,
        sources=[Source(number=1, url="https://example.org", title="Example")],
        revision_rounds=0,
        usage=TokenUsage(),
        decisions=decisions,
        started_at=NOW,
        finished_at=NOW,
    )


DRAFT = Draft(round=1, text="Draft answer [1].", sources=[Source(number=1, url="https://example.org", title="Example")])


async def test_a_whole_run_makes_one_thread(slack: SlackApiServer, reporter: SlackReporter) -> None:
    run = Run(reporter, context_in())
    await run.send(ProgressKind.STARTED)
    await run.send(ProgressKind.PLAN, stage=Stage.PLANNING, draft_round=1, sub_questions=["What?", "Who uses it?"])
    await run.send(ProgressKind.PROGRESS, stage=Stage.SEARCHING, searches_done=1, searches_total=2)
    await run.send(ProgressKind.PROGRESS, stage=Stage.SEARCHING, searches_done=2, searches_total=2)
    updates_before = len(slack.calls_to("chat.update"))
    await run.send(ProgressKind.PROGRESS)  # nothing changed: nothing sent
    assert len(slack.calls_to("chat.update")) == updates_before
    await run.send(ProgressKind.DRAFT, stage=Stage.AWAITING_DECISION, draft=DRAFT, draft_round=1)
    approval = decision(DecisionKind.APPROVE)
    await run.send(ProgressKind.DECISION, stage=Stage.FINALIZING, decisions=[approval])
    await run.send(ProgressKind.FINISHED, stage=Stage.COMPLETED, result=result(Outcome.APPROVED, [approval]))

    keys = ("root", "plan-1", "progress", "draft-1", "final")
    assert set(run.messages) == set(keys)
    thread = thread_of(slack, run)
    assert [m["ts"] for m in thread] == [run.messages[k] for k in keys]
    steps = [m["metadata"] for m in thread]
    assert steps == [
        {"event_type": STEP_EVENT, "event_payload": {"workflow_id": "research-1", "step": key}} for key in keys
    ]
    root, plan, progress, draft, final = thread
    assert "✅ Approved" in all_text(root) and "@\u200bchannel" in all_text(root) and "<!channel>" not in all_text(root)
    assert "1. What?" in all_text(plan)
    assert all_text(progress).count("✓") == 6 and "2/2 searches" in all_text(progress)
    assert draft["blocks"][-1]["type"] == "context" and "Approved by <@UBOB>" in all_text(draft)
    assert final["subtype"] == "thread_broadcast" and "*Yes*, mostly [1]." in all_text(final)
    channel = slack.workspace.history("CRESEARCH")
    assert [m["ts"] for m in channel] == [run.messages["final"], run.messages["root"]]
    assert len(slack.calls_to("chat.postMessage")) == 5


async def test_a_retried_start_after_a_lost_response_posts_once(slack: SlackApiServer, reporter: SlackReporter) -> None:
    run = Run(reporter, context_in())
    slack.lose_response("chat.postMessage")
    with pytest.raises(Exception) as lost:
        await run.send(ProgressKind.STARTED)
    assert not isinstance(lost.value, ApplicationError)  # transient: Temporal retries it
    assert len(slack.workspace.messages["CRESEARCH"]) == 1  # ...but Slack has the message

    receipt = await run.send(ProgressKind.STARTED)
    assert receipt.messages["root"] == slack.workspace.messages["CRESEARCH"][0]["ts"]
    assert len(slack.workspace.messages["CRESEARCH"]) == 1
    assert len(slack.calls_to("chat.postMessage")) == 1


async def test_only_a_retried_activity_looks_before_posting(slack: SlackApiServer, reporter: SlackReporter) -> None:
    activities = SlackProgressActivities(reporter)
    run = Run(reporter, context_in())
    await run.send(ProgressKind.STARTED)
    slack.lose_response("chat.postMessage", how="error")
    plan = run.input(ProgressKind.PLAN, stage=Stage.PLANNING, draft_round=1, sub_questions=["q"])
    lookups = len(slack.calls_to("conversations.replies"))
    with pytest.raises(ApplicationError) as failed:
        await ActivityEnvironment().run(activities.report_progress, plan)  # attempt 1
    assert failed.value.non_retryable is False and failed.value.type == "SlackUnavailable"
    assert len(slack.calls_to("conversations.replies")) == lookups  # a first attempt cannot have posted

    retry = ActivityEnvironment()
    retry.info = dataclasses.replace(retry.info, attempt=2)
    receipt = await retry.run(activities.report_progress, plan)
    assert len(slack.calls_to("conversations.replies")) == lookups + 1
    assert [m["ts"] for m in thread_of(slack, run)] == [run.messages["root"], receipt.messages["plan-1"]]


async def test_rate_limited_reports_wait_for_retry_after(slack: SlackApiServer, reporter: SlackReporter) -> None:
    run = Run(reporter, context_in())
    await run.send(ProgressKind.STARTED)
    slack.rate_limit("chat.postMessage", retry_after=7)
    with pytest.raises(ApplicationError) as limited:
        await run.send(ProgressKind.PLAN, draft_round=1, sub_questions=["q"])
    assert limited.value.type == "RateLimited" and limited.value.non_retryable is False
    assert limited.value.next_retry_delay == timedelta(seconds=7)
    await run.send(ProgressKind.PLAN, draft_round=1, sub_questions=["q"])
    assert len(thread_of(slack, run)) == 2


async def test_refusals_are_not_retried(slack: SlackApiServer) -> None:
    client = AsyncWebClient(token="xoxb-revoked", base_url=slack.base_url, retry_handlers=[])
    reporter = SlackReporter(client, RecordingReporter(), pacer=SlackPacer(post_interval=0, update_interval=0))
    with pytest.raises(ApplicationError) as refused:
        await Run(reporter, context_in()).send(ProgressKind.STARTED)
    assert refused.value.non_retryable is True and "SLACK_BOT_TOKEN" in str(refused.value)


async def test_a_private_channel_without_the_bot_gets_an_ephemeral(
    slack: SlackApiServer, reporter: SlackReporter
) -> None:
    run = Run(reporter, context_in("CSECRET", response_url=slack.response_url("CSECRET", ALICE)))
    receipt = await run.send(ProgressKind.STARTED)
    assert "root" not in receipt.messages
    [told] = slack.workspace.ephemerals
    assert told["user"] == ALICE and told["channel"] == "CSECRET" and "/invite" in told["text"]
    assert slack.workspace.messages["CSECRET"] == []
    await run.send(ProgressKind.PLAN, sub_questions=["q"])  # no thread: nothing to post into, no failure
    assert slack.workspace.messages["CSECRET"] == [] and len(slack.workspace.ephemerals) == 1


async def test_a_rejected_run_ends_with_a_notice(slack: SlackApiServer, reporter: SlackReporter) -> None:
    run = Run(reporter, context_in())
    await run.send(ProgressKind.STARTED)
    await run.send(ProgressKind.DRAFT, stage=Stage.AWAITING_DECISION, draft=DRAFT, draft_round=1)
    await run.send(ProgressKind.REMINDER)
    rejection = decision(DecisionKind.REJECT)
    await run.send(
        ProgressKind.FINISHED, stage=Stage.REJECTED, decisions=[rejection], result=result(Outcome.REJECTED, [rejection])
    )
    root, draft, reminder, notice = thread_of(slack, run)
    assert "<@UALICE>" in all_text(reminder) and "<@UBOB>" in all_text(reminder)
    assert "Rejected by <@UBOB>" in all_text(draft) and draft["blocks"][-1]["type"] == "context"
    assert "Rejected" in all_text(notice) and "subtype" not in notice
    assert "❌ Rejected" in all_text(root)
    assert set(run.messages) == {"root", "draft-1", "reminder-1", "finished"}


async def test_a_long_draft_spreads_over_messages_and_a_revision_replans(
    slack: SlackApiServer, reporter: SlackReporter
) -> None:
    run = Run(reporter, context_in())
    await run.send(ProgressKind.STARTED)
    long_draft = DRAFT.model_copy(update={"text": "\n\n".join(f"Paragraph {n}. " + "text " * 400 for n in range(12))})
    await run.send(ProgressKind.DRAFT, stage=Stage.AWAITING_DECISION, draft=long_draft, draft_round=1)
    parts = sorted(k for k in run.messages if k.startswith("draft-1"))
    assert len(parts) > 1 and "draft-1" in parts
    posted = thread_of(slack, run)[1:]
    assert posted[-1]["ts"] == run.messages["draft-1"] and posted[-1]["blocks"][-1]["type"] == "actions"
    await run.send(ProgressKind.DECISION, decisions=[decision(DecisionKind.REVISE)])
    after = thread_of(slack, run)[1:]
    assert [m["blocks"] for m in after[:-1]] == [m["blocks"] for m in posted[:-1]]
    assert "Revision requested by <@UBOB>" in all_text(after[-1])
    await run.send(ProgressKind.PLAN, stage=Stage.PLANNING, draft_round=2, sub_questions=["q1", "q2"])
    replanned = thread_of(slack, run)[-1]
    assert replanned["ts"] == run.messages["plan-2"] and "Plan for draft 2" in all_text(replanned)


async def test_runs_without_slack_go_to_the_fallback(slack: SlackApiServer) -> None:
    fallback = RecordingReporter()
    client = AsyncWebClient(token=slack.workspace.bot_token, base_url=slack.base_url, retry_handlers=[])
    run = Run(SlackReporter(client, fallback), context_in())
    run.slack = None  # type: ignore[assignment]
    await run.send(ProgressKind.STARTED)
    assert [i.kind for i in fallback.inputs] == [ProgressKind.STARTED]
    assert slack.calls == []


async def test_build_slack_client_uses_the_settings(slack: SlackApiServer) -> None:
    settings = Settings(slack_bot_token=slack.workspace.bot_token, slack_api_url=slack.base_url.rstrip("/"))
    client = build_slack_client(settings)
    assert client.retry_handlers == []  # a connection-error retry inside slack_sdk could post twice
    assert (await client.auth_test())["user_id"] == slack.workspace.bot_user_id


async def test_pacer_spaces_posts_per_channel_and_drops_stale_updates() -> None:
    now, slept = [100.0], []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        await asyncio.sleep(0)  # let other waiters run, as a real sleep would
        now[0] += seconds

    pacer = SlackPacer(
        post_interval=1.0, update_interval=1.5, post_burst=1, update_burst=1, clock=lambda: now[0], sleep=sleep
    )
    await pacer.before_post("C1")
    await pacer.before_post("C2")
    await pacer.before_post("C1")
    assert slept == [1.0]  # only the second post in C1 waits

    slept.clear()
    assert await pacer.before_update("C1", "1.1") is True
    older, newer = await asyncio.gather(pacer.before_update("C1", "1.2"), pacer.before_update("C1", "1.2"))
    assert (older, newer) == (False, True)  # the older update of 1.2 waited, and a newer one replaced it
    assert pacer.already_sent("C1", "1.2", digest({"text": "a"})) is False
    pacer.sent("C1", "1.2", digest({"text": "a"}))
    assert pacer.already_sent("C1", "1.2", digest({"text": "a"})) is True


async def test_pacer_lets_a_short_burst_through_then_keeps_the_average_rate() -> None:
    now, slept = [100.0], []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    pacer = SlackPacer(post_interval=1.0, post_burst=3, clock=lambda: now[0], sleep=sleep)
    for _ in range(5):
        await pacer.before_post("C1")
    assert slept == [1.0, 1.0]  # three at once, then one a second
