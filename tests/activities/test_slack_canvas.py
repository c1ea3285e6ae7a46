"""Long final reports as canvases, against the sandbox Slack: one canvas per run (a retried report
makes no second one), shared with the run's channel, linked from a short summary in the thread; a
workspace without canvases gets the report in messages."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
from slack_sdk.web.async_client import AsyncWebClient

from activities.slack.canvases import CANVAS_KEY
from activities.slack.reporter import SlackReporter
from activities.slack.writes import SlackWrites
from sandbox import SlackApiServer
from sandbox.canvases import canvas_url
from tests.activities.slack_runs import ALICE, BOB, RecordingReporter, Run, context_in, thread_of
from workflows.activity_io import ProgressKind
from workflows.models import DecisionKind, DecisionRecord, Outcome, ResearchResult, Source, Stage, TokenUsage

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
SOURCES = [
    Source(number=1, url="https://example.org/a", title="A"),
    Source(number=2, url="https://example.org/b", title="B"),
]
LONG = "\n\n".join(
    f"## Finding {n}\n\n"
    + f"Point {n} holds, as the pages say [1]. " * 60
    + "Also <!channel> see [x](https://evil.example)."
    for n in range(12)
)


def approved(answer: str) -> ResearchResult:
    approval = DecisionRecord(kind=DecisionKind.APPROVE, draft_round=1, decided_by=BOB, at=NOW, via="update")
    return ResearchResult(
        workflow_id="research-1",
        question="What do the pages say?",
        requested_by=ALICE,
        outcome=Outcome.APPROVED,
        answer=answer,
        steps_taken=6,
        sources=SOURCES,
        revision_rounds=0,
        usage=TokenUsage(),
        decisions=[approval],
        started_at=NOW,
        finished_at=NOW,
    )


def reporter_for(slack: SlackApiServer, http: httpx.AsyncClient, report_max_messages: int = 2) -> SlackReporter:
    client = AsyncWebClient(token=slack.workspace.bot_token, base_url=slack.base_url, retry_handlers=[])
    writes = SlackWrites(budgets={})
    return SlackReporter(client, RecordingReporter(), http=http, writes=writes, report_max_messages=report_max_messages)


async def finish(run: Run, result: ResearchResult) -> None:
    await run.send(ProgressKind.STARTED)
    await run.send(ProgressKind.FINISHED, stage=Stage.COMPLETED, decisions=result.decisions, result=result)
    await run.reporter.settle()


async def test_a_long_report_is_a_canvas_with_a_summary_in_the_thread(slack: SlackApiServer) -> None:
    async with httpx.AsyncClient() as http:
        run = Run(reporter_for(slack, http), context_in())
        await finish(run, approved(LONG))
    (canvas_id,) = slack.workspace.canvases
    canvas = slack.workspace.canvases[canvas_id]
    assert run.messages[CANVAS_KEY] == canvas_id
    assert canvas["channels"] == ["CRESEARCH"], "the run's channel may read it"
    assert canvas["title"] == "Research report: What do the pages say?"
    document = canvas["markdown"]
    assert document.count("## Finding") == 12, "the whole report"
    assert "[A](https://example.org/a)" in document and "## Sources" in document
    assert "<!channel>" not in document and "](https://evil.example)" not in document
    assert f"![](@{BOB})" in document, "who approved, as a canvas mention"

    (summary,) = [m for m in thread_of(slack, run) if m["ts"] == run.messages["final"]]
    text = str(summary["blocks"])
    assert f"<{canvas_url(slack.workspace, canvas_id)}|open the canvas>" in text
    assert "Finding 0" in text and "Finding 11" not in text, "the opening only"
    assert [b["type"] for b in summary["blocks"][-2:]] == ["context_actions", "actions"], "feedback, export close it"
    assert not any("final.part" in key for key in run.messages), "one message in the thread"


async def test_a_retried_report_makes_no_second_canvas(slack: SlackApiServer) -> None:
    async with httpx.AsyncClient() as http:
        run = Run(reporter_for(slack, http), context_in())
        await finish(run, approved(LONG))
        del run.messages["final"]  # as if the post's answer was lost: the step runs again
        await run.send(ProgressKind.FINISHED, result=approved(LONG))
    assert len(slack.workspace.canvases) == 1


async def test_a_short_report_stays_in_messages(slack: SlackApiServer) -> None:
    async with httpx.AsyncClient() as http:
        run = Run(reporter_for(slack, http), context_in())
        await finish(run, approved("Short and cited [1]."))
    assert slack.workspace.canvases == {}
    assert "Short and cited" in str(next(m for m in thread_of(slack, run) if m["ts"] == run.messages["final"]))


async def test_a_workspace_without_canvases_gets_the_report_in_messages(slack: SlackApiServer) -> None:
    slack.workspace.canvases_enabled = False
    async with httpx.AsyncClient() as http:
        run = Run(reporter_for(slack, http), context_in())
        await finish(run, approved(LONG))
    assert slack.workspace.canvases == {}
    parts = [key for key in run.messages if key.startswith("final")]
    assert len(parts) > 2, "the whole report, over several messages"
