"""The listeners' refusals and their order of work, through Bolt itself (``app.async_dispatch``):
what Slack gets back, what the person is told, and what did (or did not) reach Temporal."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import timedelta

import pytest
from slack_bolt.async_app import AsyncApp
from structlog.testing import capture_logs
from temporalio.service import RPCError, RPCStatusCode

from bot import start_in_time
from bot.arrival import arrived
from bot.decisions import DELIVER_WAIT
from bot.runs import UPDATE_WAIT
from bot.under_way import DRAIN_SECONDS
from sandbox import Channel, SlackApiServer
from sandbox.signing import signed_headers
from slack_ui.ids import encode_button_value, encode_private_metadata, workflow_id_for
from tests.bot.conftest import (
    APPROVER,
    ASKER,
    SECRET,
    STRANGER,
    FakeTemporal,
    bolt_request,
    click,
    command,
    ephemerals,
    form,
    interaction,
    reply,
    run_id,
    submission,
)
from tests.support.waiting import eventually
from workflows.models import MAX_QUESTION_CHARS, DecisionKind

SLACK_DEADLINE = timedelta(seconds=3)


def test_the_waits_fit_inside_slacks_three_seconds() -> None:
    assert UPDATE_WAIT < DELIVER_WAIT < SLACK_DEADLINE  # the update, then its signal fallback, before the ack
    assert start_in_time.START_DEADLINE < SLACK_DEADLINE < start_in_time.START_WAIT
    # A stopping bot waits for a start its asker was told is queued, and for the start's lookup.
    assert (start_in_time.START_WAIT + start_in_time.LOOKUP_WAIT).total_seconds() < DRAIN_SECONDS


# ------------------------------------------------------------------ /research


@pytest.mark.parametrize(("text", "expected"), [("", "Usage: /research"), ("  HELP ", "How ResearchBot works")])
async def test_empty_or_help_gets_usage_and_starts_nothing(
    app: AsyncApp, slack: SlackApiServer, channel: Channel, temporal: FakeTemporal, text: str, expected: str
) -> None:
    response = await app.async_dispatch(bolt_request(form(command(slack, channel, text))))
    assert response.status == 200 and reply(response)["text"].startswith(expected)
    assert temporal.starts == []


async def test_a_question_clean_question_refuses_is_answered_and_not_started(
    app: AsyncApp, slack: SlackApiServer, channel: Channel, temporal: FakeTemporal
) -> None:
    response = await app.async_dispatch(bolt_request(form(command(slack, channel, "x" * (MAX_QUESTION_CHARS + 1)))))
    assert response.status == 200
    assert reply(response) == {
        "response_type": "ephemeral",
        "text": f"Sorry, I can't research that: the question is {MAX_QUESTION_CHARS + 1} characters long; "
        f"keep it under {MAX_QUESTION_CHARS}.",
    }
    assert temporal.starts == []


async def test_a_question_is_started_before_it_is_acked(
    app: AsyncApp, slack: SlackApiServer, channel: Channel, temporal: FakeTemporal
) -> None:
    fields = command(slack, channel, "Why &lt;b&gt; &amp; not &lt;i&gt;?")
    response = await app.async_dispatch(bolt_request(form(fields)))
    assert response.status == 200 and reply(response)["text"] == start_in_time.STARTED
    assert temporal.starts == [workflow_id_for(fields)]  # written before the 200 went out


async def test_a_slow_start_is_acked_as_queued_and_the_asker_told_when_it_starts(
    app: AsyncApp, slack: SlackApiServer, channel: Channel, temporal: FakeTemporal, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(start_in_time, "START_DEADLINE", timedelta(seconds=0.05))
    release = asyncio.Event()
    temporal.start = release.wait
    fields = command(slack, channel, "What is a task queue?")
    response = await app.async_dispatch(bolt_request(form(fields)))
    assert response.status == 200 and reply(response)["text"] == start_in_time.QUEUED
    assert temporal.starts == []
    release.set()
    assert await eventually(lambda: ephemerals(slack, channel, ASKER), "the asker told") == [start_in_time.STARTED_LATE]
    assert temporal.starts == [workflow_id_for(fields)]


async def test_the_start_deadline_counts_from_the_requests_arrival(
    app: AsyncApp, slack: SlackApiServer, channel: Channel, temporal: FakeTemporal, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A command that waited in a busy bot before its listener ran has less of START_DEADLINE left: its ack
    says "queued" in time for Slack instead of waiting the whole deadline again."""
    monkeypatch.setattr(start_in_time, "START_DEADLINE", timedelta(minutes=5))
    release = asyncio.Event()
    temporal.start = release.wait
    arrived(time.monotonic() - 300)  # it arrived (bot/front_door.py marks it) the whole deadline ago
    dispatch = app.async_dispatch(bolt_request(form(command(slack, channel, "What is a task queue?"))))
    response = await asyncio.wait_for(dispatch, timeout=60)  # a guard: counted from the listener, it would take 5 min
    assert response.status == 200 and reply(response)["text"] == start_in_time.QUEUED
    release.set()
    assert await eventually(lambda: ephemerals(slack, channel, ASKER), "the asker told") == [start_in_time.STARTED_LATE]


async def test_a_start_that_never_finishes_is_owned_up_to(
    app: AsyncApp, slack: SlackApiServer, channel: Channel, temporal: FakeTemporal, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(start_in_time, "START_DEADLINE", timedelta(seconds=0.05))
    monkeypatch.setattr(start_in_time, "START_WAIT", timedelta(seconds=0.2))
    temporal.start = asyncio.Event().wait  # never
    response = await app.async_dispatch(bolt_request(form(command(slack, channel, "What is a task queue?"))))
    assert reply(response)["text"] == start_in_time.QUEUED
    assert await eventually(lambda: ephemerals(slack, channel, ASKER), "the asker told") == [start_in_time.SLOW]


async def test_temporal_refusing_at_once_is_acked_as_nothing_started(
    app: AsyncApp, slack: SlackApiServer, channel: Channel, temporal: FakeTemporal
) -> None:
    async def refuse() -> None:
        raise RuntimeError("Failed client connect: connection refused")

    temporal.start = refuse
    with capture_logs() as logs:
        response = await app.async_dispatch(bolt_request(form(command(slack, channel, "What is a task queue?"))))
    assert response.status == 200 and reply(response)["text"] == start_in_time.UNAVAILABLE
    assert temporal.starts == [] and [e["event"] for e in logs if e["log_level"] == "error"] == [
        "research.start_failed"
    ]


async def test_a_start_whose_answer_was_lost_is_looked_up_and_acked_as_started(
    app: AsyncApp, slack: SlackApiServer, channel: Channel, temporal: FakeTemporal
) -> None:
    fields = command(slack, channel, "What is a task queue?")

    async def written_then_lost() -> None:
        temporal.written.add(workflow_id_for(fields))  # Temporal has the run; its answer never arrives
        raise RPCError("connection reset", RPCStatusCode.UNAVAILABLE, b"")

    temporal.start = written_then_lost
    response = await app.async_dispatch(bolt_request(form(fields)))
    assert response.status == 200 and reply(response)["text"] == start_in_time.STARTED


async def test_ids_no_slack_workspace_sends_are_a_400_and_start_nothing(
    app: AsyncApp, slack: SlackApiServer, channel: Channel, temporal: FakeTemporal
) -> None:
    fields = {**command(slack, channel, "What is a task queue?"), "user_id": "U" * 5000}
    response = await app.async_dispatch(bolt_request(form(fields)))
    assert response.status == 400 and "longer than" in str(response.body)
    assert temporal.starts == []


async def test_status_lists_the_askers_runs(
    app: AsyncApp, slack: SlackApiServer, channel: Channel, temporal: FakeTemporal
) -> None:
    response = await app.async_dispatch(bolt_request(form(command(slack, channel, "status"))))
    assert response.status == 200 and response.body == ""
    found = await eventually(lambda: ephemerals(slack, channel, ASKER), "the asker's runs")
    assert found == ["You have no research runs in progress."]


async def test_the_ack_does_not_wait_for_what_follows_it(
    app: AsyncApp, slack: SlackApiServer, channel: Channel, temporal: FakeTemporal
) -> None:
    """Bolt answers when the listener returns (process_before_response); what follows the ack (here the
    status listing, held back) runs after the answer, in bot/under_way.py."""
    temporal.list_gate = asyncio.Event()
    dispatch = app.async_dispatch(bolt_request(form(command(slack, channel, "status"))))
    response = await asyncio.wait_for(dispatch, timeout=30)  # a guard against a hang, not a timing
    assert response.status == 200 and ephemerals(slack, channel, ASKER) == []
    temporal.list_gate.set()
    found = await eventually(lambda: ephemerals(slack, channel, ASKER), "the asker's runs")
    assert found == ["You have no research runs in progress."]


# ------------------------------------------------------------------ buttons


@pytest.mark.parametrize("action_id", ["approve", "revise", "reject"])
async def test_someone_who_may_not_decide_is_refused_and_nothing_is_sent(
    app: AsyncApp, slack: SlackApiServer, channel: Channel, temporal: FakeTemporal, action_id: str
) -> None:
    value = encode_button_value(run_id(slack, channel), 1)
    response = await app.async_dispatch(bolt_request(interaction(click(slack, channel, action_id, STRANGER, value))))
    assert response.status == 200
    [refusal] = await eventually(lambda: ephemerals(slack, channel, STRANGER), "the refusal")
    assert refusal.startswith(f"Only <@{ASKER}>, who asked, and the configured approvers can decide")
    assert temporal.updates == temporal.signals == [] and slack.calls_to("views.open") == []


async def test_an_approver_clicking_approve_gets_the_modal(
    app: AsyncApp, slack: SlackApiServer, channel: Channel, temporal: FakeTemporal
) -> None:
    workflow_id = run_id(slack, channel)
    opened = len(slack.calls_to("views.open"))
    payload = click(slack, channel, "approve", APPROVER, encode_button_value(workflow_id, 2))
    assert (await app.async_dispatch(bolt_request(interaction(payload)))).status == 200
    await eventually(lambda: slack.calls_to("views.open")[opened:], "the modal")
    view = slack.calls_to("views.open")[-1].params["view"]
    assert json.loads(view["private_metadata"]) == {"wf": workflow_id, "round": 2, "kind": "approve"}
    assert "Why?" in view["blocks"][0]["text"]["text"] and temporal.updates == []


async def test_reject_is_delivered_before_it_is_acked(
    app: AsyncApp, slack: SlackApiServer, channel: Channel, temporal: FakeTemporal
) -> None:
    temporal.update_gate = asyncio.Event()
    payload = click(slack, channel, "reject", ASKER, encode_button_value(run_id(slack, channel), 1))
    answering = asyncio.create_task(app.async_dispatch(bolt_request(interaction(payload))))
    await asyncio.sleep(0.2)  # a wait, not a timing assertion: no ack while the update is in flight
    assert not answering.done() and temporal.updates == []
    temporal.update_gate.set()
    assert (await answering).status == 200
    [(workflow_id, decision)] = temporal.updates
    assert workflow_id == run_id(slack, channel) and decision.kind is DecisionKind.REJECT
    assert await eventually(lambda: ephemerals(slack, channel, ASKER), "the outcome") == ["Decision recorded"]


@pytest.mark.parametrize("value", ["research-x|1|approve", "", '{"wf": "research-1"}', '{"wf": 1, "round": 1}'])
async def test_a_malformed_button_value_is_a_400_and_nothing_is_sent(
    app: AsyncApp,
    slack: SlackApiServer,
    channel: Channel,
    temporal: FakeTemporal,
    caplog: pytest.LogCaptureFixture,
    value: str,
) -> None:
    with capture_logs() as logs, caplog.at_level(logging.INFO):
        response = await app.async_dispatch(bolt_request(interaction(click(slack, channel, "reject", ASKER, value))))
    assert response.status == 400 and response.body.startswith("not a decision button value")
    assert [e["event"] for e in logs if e["log_level"] == "info"] == ["bot.malformed_request"]
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert temporal.updates == temporal.signals == [] and ephemerals(slack, channel, ASKER) == []


async def test_a_click_without_a_user_is_a_400(app: AsyncApp, slack: SlackApiServer, channel: Channel) -> None:
    payload = click(slack, channel, "approve", ASKER, encode_button_value(run_id(slack, channel), 1))
    del payload["user"]
    response = await app.async_dispatch(bolt_request(interaction(payload)))
    assert (response.status, response.body) == (400, "the payload has no user.id")


# ------------------------------------------------------------------ the decision modal


async def test_malformed_private_metadata_is_a_400_and_nothing_is_sent(
    app: AsyncApp, slack: SlackApiServer, temporal: FakeTemporal, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        response = await app.async_dispatch(bolt_request(interaction(submission(slack, ASKER, "research-x|1|approve"))))
    assert response.status == 400 and response.body.startswith("not a decision modal's private_metadata")
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert temporal.updates == temporal.signals == []


async def test_a_submission_from_someone_who_may_not_decide_stays_in_the_modal(
    app: AsyncApp, slack: SlackApiServer, channel: Channel, temporal: FakeTemporal
) -> None:
    metadata = encode_private_metadata(run_id(slack, channel), 1, DecisionKind.APPROVE)
    response = await app.async_dispatch(bolt_request(interaction(submission(slack, STRANGER, metadata))))
    assert response.status == 200
    answer = reply(response)
    assert answer["response_action"] == "errors" and answer["errors"]["feedback"].startswith(f"Only <@{ASKER}>")
    assert temporal.updates == temporal.signals == []


async def test_the_askers_submission_is_delivered_before_the_modal_closes(
    app: AsyncApp, slack: SlackApiServer, channel: Channel, temporal: FakeTemporal
) -> None:
    metadata = encode_private_metadata(run_id(slack, channel), 3, DecisionKind.REVISE)
    response = await app.async_dispatch(bolt_request(interaction(submission(slack, ASKER, metadata, "shorter"))))
    assert (response.status, response.body) == (200, "")
    [(_, decision)] = temporal.updates
    assert (decision.kind, decision.draft_round, decision.feedback, decision.decided_by) == (
        DecisionKind.REVISE,
        3,
        "shorter",
        ASKER,
    )


# ------------------------------------------------------------------ the request itself


@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Type": "application/x-www-form-urlencoded"},
        {"X-Slack-Request-Timestamp": str(int(time.time())), "X-Slack-Signature": "v0=" + "0" * 64},
        "wrong secret",
        "stale",
    ],
)
async def test_unsigned_or_badly_signed_requests_are_401(
    app: AsyncApp, slack: SlackApiServer, channel: Channel, temporal: FakeTemporal, headers: object
) -> None:
    body = form(command(slack, channel, "What is a task queue?"))
    if headers == "wrong secret":
        headers = signed_headers("not-" + SECRET, body)
    elif headers == "stale":
        headers = signed_headers(SECRET, body, timestamp=int(time.time()) - 10 * 60)
    response = await app.async_dispatch(bolt_request(body, headers))  # type: ignore[arg-type]
    assert response.status == 401 and temporal.starts == []


async def test_a_bug_is_still_a_500_with_its_traceback(
    app: AsyncApp, slack: SlackApiServer, channel: Channel, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr("bot.listeners.commands.start_research", broken)
    with capture_logs() as logs:
        response = await app.async_dispatch(bolt_request(form(command(slack, channel, "What is a task queue?"))))
    assert response.status == 500
    [failed] = [e for e in logs if e["event"] == "bot.listener_failed"]
    assert failed["log_level"] == "error" and isinstance(failed["exc_info"], RuntimeError)


async def test_a_request_nobody_listens_for_is_not_a_warning_in_the_log(
    app: AsyncApp, slack: SlackApiServer, caplog: pytest.LogCaptureFixture
) -> None:
    ws = slack.workspace
    event = {"type": "event_callback", "team_id": ws.team_id, "api_app_id": ws.app_id, "event": {"type": "star_added"}}
    caplog.set_level(logging.INFO)
    body = json.dumps(event)
    response = await app.async_dispatch(
        bolt_request(body, signed_headers(SECRET, body, content_type="application/json"))
    )
    assert response.status == 404
    assert not [r for r in caplog.records if r.levelno >= logging.INFO and "Unhandled request" in r.getMessage()]
