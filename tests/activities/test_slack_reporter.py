"""The Slack reporter end to end against the sandbox Slack: what a run's thread shows, step by step."""

from __future__ import annotations

from datetime import UTC, datetime

from slack_sdk.web.async_client import AsyncWebClient

from activities.slack.reporter import STEP_EVENT, SlackReporter
from sandbox import SlackApiServer
from tests.activities.slack_runs import ALICE, BOB, RecordingReporter, Run, context_in, thread_of
from workflows.activity_io import ProgressKind
from workflows.models import (
    DecisionKind,
    DecisionRecord,
    Draft,
    Outcome,
    ResearchResult,
    Source,
    Stage,
    TokenUsage,
)

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


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
    await reporter.settle()  # the root's and the checklist's last states follow in the background

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
    assert final["subtype"] == "thread_broadcast" and "**Yes**, mostly [1]." in all_text(final)
    channel = slack.workspace.history("CRESEARCH")
    assert [m["ts"] for m in channel] == [run.messages["final"], run.messages["root"]]
    assert len(slack.calls_to("chat.postMessage")) == 5


async def test_a_rejected_run_ends_with_a_notice(slack: SlackApiServer, reporter: SlackReporter) -> None:
    run = Run(reporter, context_in())
    await run.send(ProgressKind.STARTED)
    await run.send(ProgressKind.DRAFT, stage=Stage.AWAITING_DECISION, draft=DRAFT, draft_round=1)
    await run.send(ProgressKind.REMINDER)
    rejection = decision(DecisionKind.REJECT)
    await run.send(
        ProgressKind.FINISHED, stage=Stage.REJECTED, decisions=[rejection], result=result(Outcome.REJECTED, [rejection])
    )
    await reporter.settle()
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


async def test_a_queued_decision_refused_on_arrival_is_told_to_its_sender_in_the_thread(
    slack: SlackApiServer, reporter: SlackReporter
) -> None:
    run = Run(reporter, context_in())
    await run.send(ProgressKind.STARTED)
    await run.send(ProgressKind.DRAFT, stage=Stage.AWAITING_DECISION, draft=DRAFT, draft_round=1)
    late = decision(DecisionKind.APPROVE, by=BOB).model_copy(
        update={"via": "signal", "applied": False, "reason": "draft round 1 was already decided <!channel>"}
    )
    before = len(slack.workspace.ephemerals)
    await run.send(ProgressKind.REFUSED, decisions=[late], refused=late)

    [told] = slack.workspace.ephemerals[before:]
    assert told["user"] == BOB and told["thread_ts"] == run.messages["root"]
    assert "not applied" in told["text"] and "already decided" in told["text"]
    assert "<!channel>" not in told["text"] + all_text(told)
