"""The Slack reporter when Slack fails it: lost responses and retries, rate limits, refusals, no access."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from slack_sdk.web.async_client import AsyncWebClient
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.slack.reporter import SlackProgressActivities, SlackReporter
from activities.slack.writes import SlackWrites
from core.response_urls import LIFETIME, ResponseUrls
from core.settings import Settings
from sandbox import SlackApiServer
from slack_ui.client import build_slack_client
from tests.activities.slack_runs import ALICE, RecordingReporter, Run, context_in, thread_of
from tests.fakes.search_servers import FakeWeb
from workflows.activity_io import ProgressKind
from workflows.models import Draft, Source, Stage

DRAFT = Draft(round=1, text="Draft answer [1].", sources=[Source(number=1, url="https://example.org", title="Example")])


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


async def test_a_retried_root_post_finds_its_message_behind_hundreds_of_newer_ones(
    slack: SlackApiServer, reporter: SlackReporter
) -> None:
    activities = SlackProgressActivities(reporter)
    run = Run(reporter, context_in())
    started, first_scheduled = run.input(ProgressKind.STARTED), datetime.now(UTC)
    slack.lose_response("chat.postMessage", how="error")
    with pytest.raises(ApplicationError):
        await ActivityEnvironment().run(activities.report_progress, started)  # posted, but the answer was lost
    [root] = slack.workspace.messages["CRESEARCH"]
    for n in range(300):  # a busy channel: the root is far past the newest 100 by the time of the retry
        slack.workspace.post("CRESEARCH", user=ALICE, text=f"chatter {n}")

    retry = ActivityEnvironment()
    retry.info = dataclasses.replace(retry.info, attempt=2, scheduled_time=first_scheduled)
    receipt = await retry.run(activities.report_progress, started)
    assert receipt.messages["root"] == root["ts"]
    assert [m for m in slack.workspace.messages["CRESEARCH"] if m.get("metadata")] == [root]  # posted once
    assert all(call.params.get("oldest") for call in slack.calls_to("conversations.history"))


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
    reporter = SlackReporter(client, RecordingReporter(), writes=SlackWrites({}))
    with pytest.raises(ApplicationError) as refused:
        await Run(reporter, context_in()).send(ProgressKind.STARTED)
    assert refused.value.non_retryable is True and "SLACK_BOT_TOKEN" in str(refused.value)


async def test_a_private_channel_without_the_bot_gets_an_ephemeral(
    slack: SlackApiServer, telling_reporter: SlackReporter, response_urls: ResponseUrls
) -> None:
    run = Run(telling_reporter, context_in("CSECRET"))
    response_urls.keep(run.status.workflow_id, slack.response_url("CSECRET", ALICE))  # as the bot did
    receipt = await run.send(ProgressKind.STARTED)
    assert "root" not in receipt.messages
    [told] = slack.workspace.ephemerals
    assert told["user"] == ALICE and told["channel"] == "CSECRET" and "/invite" in told["text"]
    assert slack.workspace.messages["CSECRET"] == []
    await run.send(ProgressKind.PLAN, sub_questions=["q"])  # no thread: nothing to post into, no failure
    assert slack.workspace.messages["CSECRET"] == [] and len(slack.workspace.ephemerals) == 1


async def test_a_response_url_on_another_host_is_not_posted_to(
    slack: SlackApiServer, telling_reporter: SlackReporter, response_urls: ResponseUrls, web: FakeWeb
) -> None:
    """Only Slack's hosts (and SLACK_API_URL's, the sandbox's here) get the asker's ephemeral: a URL
    elsewhere, a loopback server on another port, hears nothing."""
    run = Run(telling_reporter, context_in("CSECRET"))
    response_urls.keep(run.status.workflow_id, f"{web.url}/commands/T1/123/secret")
    receipt = await run.send(ProgressKind.STARTED)
    assert "root" not in receipt.messages
    assert web.requests == [] and slack.workspace.ephemerals == []


async def test_an_expired_response_url_is_not_used(
    slack: SlackApiServer, telling_reporter: SlackReporter, response_urls: ResponseUrls
) -> None:
    run = Run(telling_reporter, context_in("CSECRET"))
    kept_at = datetime.now(UTC) - LIFETIME - timedelta(seconds=1)  # Slack no longer honours it
    response_urls.keep(run.status.workflow_id, slack.response_url("CSECRET", ALICE), now=kept_at)
    await run.send(ProgressKind.STARTED)
    assert slack.workspace.ephemerals == []
    assert all(uses["uses"] == 0 for uses in slack.workspace.response_urls.values())


async def test_build_slack_client_uses_the_settings(slack: SlackApiServer) -> None:
    settings = Settings(slack_bot_token=slack.workspace.bot_token, slack_api_url=slack.base_url.rstrip("/"))
    client = build_slack_client(settings)
    assert client.retry_handlers == []  # a connection-error retry inside slack_sdk could post twice
    assert (await client.auth_test())["user_id"] == slack.workspace.bot_user_id


async def test_a_draft_slack_refuses_for_good_is_told_to_the_requester(
    slack: SlackApiServer, telling_reporter: SlackReporter, response_urls: ResponseUrls
) -> None:
    run = Run(telling_reporter, context_in())
    response_urls.keep(run.status.workflow_id, slack.response_url("CRESEARCH", ALICE))
    await run.send(ProgressKind.STARTED)
    with slack.workspace.lock:
        slack.workspace.channels["CRESEARCH"].is_archived = True  # archived while the research ran
    with pytest.raises(ApplicationError) as refused:
        await run.send(ProgressKind.DRAFT, stage=Stage.AWAITING_DECISION, draft=DRAFT, draft_round=1)
    assert refused.value.non_retryable is True
    [told] = [e for e in slack.workspace.ephemerals if e["user"] == ALICE]
    assert "/invite" in told["text"]


async def test_a_reminder_brings_a_draft_whose_own_post_has_not_got_through(
    slack: SlackApiServer, reporter: SlackReporter
) -> None:
    run = Run(reporter, context_in())
    await run.send(ProgressKind.STARTED)
    run.status = run.status.model_copy(update={"draft": DRAFT, "draft_round": 1, "stage": Stage.AWAITING_DECISION})
    receipt = await run.send(ProgressKind.REMINDER, reminder_sent=True)
    keys = [m["metadata"]["event_payload"]["step"] for m in thread_of(slack, run)]
    assert keys == ["root", "draft-1", "reminder-1"] and "draft-1" in receipt.messages

    # The draft's own report, retried later, finds the draft the reminder posted instead of posting it again.
    retry = ActivityEnvironment()
    retry.info = dataclasses.replace(retry.info, attempt=2)
    stale = run.input(ProgressKind.DRAFT).model_copy(update={"messages": {"root": run.messages["root"]}})
    await retry.run(SlackProgressActivities(reporter).report_progress, stale)
    assert [m["metadata"]["event_payload"]["step"] for m in thread_of(slack, run)].count("draft-1") == 1
