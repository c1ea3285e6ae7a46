"""A run's progress as one streamed message (SLACK_PROGRESS=stream) against the sandbox Slack: task cards
per sub-question, the sources as they are found, stopped with the draft; retried reports that append to
the same stream; and the chat.update checklist where the workspace does not stream or the stream ended."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from temporalio.exceptions import ApplicationError

from activities.slack.reporter import SlackReporter
from activities.slack.streams import ProgressMode
from sandbox import SlackApiServer
from sandbox.streams import STREAM_IDLE_SECONDS
from tests.activities.conftest import make_reporter
from tests.activities.slack_runs import Run, context_in, thread_of
from workflows.activity_io import ProgressKind
from workflows.models import Draft, Outcome, ResearchResult, Source, Stage, TokenUsage

SOURCES = [
    Source(number=1, url="https://example.org/a", title="Alpha"),
    Source(number=2, url="https://example.org/b", title="Beta"),
]
DRAFT = Draft(round=1, text="Draft answer [1] [2].", sources=SOURCES)
TEAM = "T0SANDBOX"


def tasks(message: dict) -> dict[str, dict]:
    """The latest task_update of each task id, as the page shows them."""
    shown: dict[str, dict] = {}
    for chunk in message["stream"]["chunks"]:
        if chunk["type"] == "task_update":
            shown[chunk["id"]] = chunk
    return shown


async def plan_and_search(run: Run) -> None:
    await run.send(ProgressKind.STARTED)
    await run.send(ProgressKind.PLAN, stage=Stage.PLANNING, draft_round=1, sub_questions=["What?", "Who uses it?"])
    await run.send(ProgressKind.PROGRESS, stage=Stage.SEARCHING, searches_total=2)


def the_stream(slack: SlackApiServer, run: Run) -> dict:
    message = slack.workspace.message(run.slack.channel_id, run.messages["progress-stream-1"])
    assert message is not None
    return message


async def test_a_run_streams_its_progress_as_task_cards_and_stops_with_the_draft(
    slack: SlackApiServer, streaming_reporter: SlackReporter
) -> None:
    run = Run(streaming_reporter, context_in(team_id=TEAM))
    await plan_and_search(run)
    stream = the_stream(slack, run)
    assert stream["stream"]["state"] == "streaming" and stream["stream"]["task_display_mode"] == "plan"
    assert {k: (t["title"], t["status"]) for k, t in tasks(stream).items()} == {
        "q1": ("What?", "in_progress"),
        "q2": ("Who uses it?", "in_progress"),
        "read": ("Read the best pages", "pending"),
        "write": ("Write the draft", "pending"),
    }
    start = slack.calls_to("chat.startStream")[0].params
    assert start["recipient_user_id"] == run.slack.user_id and start["recipient_team_id"] == TEAM

    await run.send(ProgressKind.PROGRESS, stage=Stage.READING, searches_done=2, pages_total=2)
    await run.send(ProgressKind.PROGRESS, stage=Stage.READING, pages_read=2, sources=SOURCES)
    shown = tasks(the_stream(slack, run))
    assert shown["q1"]["status"] == shown["q2"]["status"] == "complete"
    assert [s["url"] for s in shown["read"]["sources"]] == [s.url for s in SOURCES]
    assert shown["read"]["details"] == "2/2 pages read"

    await run.send(ProgressKind.DRAFT, stage=Stage.AWAITING_DECISION, draft=DRAFT)
    await streaming_reporter.settle()  # the last state and the stop follow the draft in the background
    stream = the_stream(slack, run)
    assert stream["stream"]["state"] == "stopped"
    assert {t["status"] for t in tasks(stream).values()} == {"complete"}
    # One streamed message in the thread, between the plan and the draft; no checklist.
    thread = thread_of(slack, run)
    assert [m["ts"] for m in thread] == [run.messages[k] for k in ("root", "plan-1", "progress-stream-1", "draft-1")]
    assert "progress" not in run.messages
    assert len(slack.calls_to("chat.startStream")) == 1 and len(slack.calls_to("chat.stopStream")) == 1

    # The run goes on after the draft: its stream stays as it was.
    await run.send(ProgressKind.FINISHED, stage=Stage.REJECTED, result=_result(Outcome.REJECTED))
    await streaming_reporter.settle()
    assert len(slack.calls_to("chat.stopStream")) == 1 and len(slack.calls_to("chat.appendStream")) == 4


async def test_a_retried_report_appends_to_the_same_stream(
    slack: SlackApiServer, streaming_reporter: SlackReporter
) -> None:
    run = Run(streaming_reporter, context_in(team_id=TEAM))
    await plan_and_search(run)
    # The same report again on this worker: nothing new to send.
    appends = len(slack.calls_to("chat.appendStream"))
    await run.send(ProgressKind.PROGRESS)
    assert len(slack.calls_to("chat.appendStream")) == appends
    # ...and on another worker (it never sent anything there): the same state again, to the same stream.
    async with httpx.AsyncClient() as http:
        other = Run(make_reporter(slack, http, ProgressMode.STREAM), run.slack)
        other.messages, other.status = dict(run.messages), run.status
        await other.send(ProgressKind.PROGRESS)
    assert len(slack.calls_to("chat.appendStream")) == appends + 1
    assert len(slack.calls_to("chat.startStream")) == 1
    assert len([m for m in thread_of(slack, run) if "stream" in m]) == 1


async def test_a_retry_that_lost_the_start_answer_adopts_the_stream_it_started(
    slack: SlackApiServer, streaming_reporter: SlackReporter
) -> None:
    run = Run(streaming_reporter, context_in(team_id=TEAM))
    await run.send(ProgressKind.STARTED)
    slack.lose_response("chat.startStream")
    with pytest.raises(Exception) as lost:
        await run.send(ProgressKind.PLAN, stage=Stage.PLANNING, draft_round=1, sub_questions=["What?"])
    assert not isinstance(lost.value, ApplicationError)  # transient: Temporal retries the report
    assert "progress-stream-1" not in run.messages  # the workflow never heard of it
    await run.send(ProgressKind.PLAN, stage=Stage.PLANNING, draft_round=1, sub_questions=["What?"])
    assert len(slack.calls_to("chat.startStream")) == 1
    streams = [m for m in thread_of(slack, run) if "stream" in m]
    assert [m["ts"] for m in streams] == [run.messages["progress-stream-1"]]


async def test_a_workspace_without_streaming_gets_the_checklist(
    slack: SlackApiServer, streaming_reporter: SlackReporter
) -> None:
    slack.workspace.streaming = False  # an older workspace: chat.startStream is an unknown_method
    run = Run(streaming_reporter, context_in(team_id=TEAM))
    await plan_and_search(run)
    await run.send(ProgressKind.PROGRESS, stage=Stage.READING, searches_done=2, pages_total=2)
    await streaming_reporter.settle()
    assert run.messages["progress-mode"] == "update"
    assert "progress-stream-1" not in run.messages and "progress" in run.messages
    progress = slack.workspace.message("CRESEARCH", run.messages["progress"])
    assert progress is not None and "2/2 searches" in str(progress["blocks"])
    assert len(slack.calls_to("chat.startStream")) == 1  # asked once; the run remembers the answer
    await run.send(ProgressKind.PROGRESS, stage=Stage.READING, pages_read=2, sources=SOURCES)
    assert len(slack.calls_to("chat.startStream")) == 1


async def test_a_stream_that_ended_falls_back_to_the_checklist(
    slack: SlackApiServer, streaming_reporter: SlackReporter
) -> None:
    run = Run(streaming_reporter, context_in(team_id=TEAM))
    await plan_and_search(run)
    later = slack.workspace.clock() + STREAM_IDLE_SECONDS + 1
    slack.workspace.clock = lambda: later  # nobody appended for too long: Slack ended the stream
    await run.send(ProgressKind.PROGRESS, stage=Stage.READING, searches_done=2, pages_total=2)
    assert run.messages["progress-mode"] == "update" and "progress" in run.messages
    await run.send(ProgressKind.DRAFT, stage=Stage.AWAITING_DECISION, draft=DRAFT)
    await streaming_reporter.settle()
    assert "draft-1" in run.messages and not slack.calls_to("chat.stopStream")


async def test_a_run_that_fails_mid_search_stops_its_stream_with_errors(
    slack: SlackApiServer, streaming_reporter: SlackReporter
) -> None:
    run = Run(streaming_reporter, context_in(team_id=TEAM))
    await plan_and_search(run)
    await run.send(ProgressKind.FINISHED, stage=Stage.FAILED, result=_result(Outcome.FAILED))
    await streaming_reporter.settle()
    stream = the_stream(slack, run)
    assert stream["stream"]["state"] == "stopped"
    assert {k: t["status"] for k, t in tasks(stream).items()} == {
        "q1": "error",
        "q2": "error",
        "read": "error",
        "write": "error",
    }


def _result(outcome: Outcome) -> ResearchResult:
    now = datetime(2025, 3, 1, tzinfo=UTC)
    return ResearchResult(
        workflow_id="research-1",
        question="Is <!channel> safe?",
        requested_by="UALICE",
        outcome=outcome,
        answer="",
        steps_taken=2,
        sources=[],
        revision_rounds=0,
        usage=TokenUsage(),
        decisions=[],
        started_at=now,
        finished_at=now,
        error="the search provider is down" if outcome is Outcome.FAILED else None,
    )


async def test_each_sub_question_card_shows_the_sources_its_search_found(
    slack: SlackApiServer, streaming_reporter: SlackReporter
) -> None:
    run = Run(streaming_reporter, context_in(team_id=TEAM))
    await plan_and_search(run)
    found = [source.model_copy(update={"sub_question": n}) for n, source in enumerate(SOURCES, 1)]
    await run.send(ProgressKind.PROGRESS, stage=Stage.READING, searches_done=2, pages_total=2, pages_read=1)
    assert "sources" not in tasks(the_stream(slack, run))["q1"]  # nothing read yet
    await run.send(ProgressKind.PROGRESS, stage=Stage.READING, pages_read=2, sources=found)
    shown = tasks(the_stream(slack, run))
    assert [s["url"] for s in shown["q1"]["sources"]] == [SOURCES[0].url]
    assert [s["url"] for s in shown["q2"]["sources"]] == [SOURCES[1].url]
    assert shown["q1"]["output"] == "1 source read"
