"""A retried step looking for what its earlier attempt posted: it trusts only the bot's own messages,
and its reads are spent from the rate budget, a 429 waited out as Slack says."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from slack_sdk.web.async_client import AsyncWebClient
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.slack.lookup import STEP_EVENT
from activities.slack.reporter import SlackProgressActivities, SlackReporter
from activities.slack.streams import ProgressMode
from activities.slack.writes import SlackWrites
from sandbox import SlackApiServer
from tests.activities.slack_runs import ALICE, RecordingReporter, Run, context_in, thread_of
from workflows.activity_io import ProgressKind
from workflows.models import Stage


async def _plan_retried(
    slack: SlackApiServer, reporter: SlackReporter, fault: Callable[[], None], before_retry: Callable[[Run], None]
) -> tuple[Run, str]:
    """The plan's first attempt meets ``fault()`` and fails; ``before_retry()`` runs; attempt 2 reports again."""
    activities = SlackProgressActivities(reporter)
    run = Run(reporter, context_in())
    await run.send(ProgressKind.STARTED)
    plan = run.input(ProgressKind.PLAN, stage=Stage.PLANNING, draft_round=1, sub_questions=["q"])
    fault()
    with pytest.raises(ApplicationError):
        await ActivityEnvironment().run(activities.report_progress, plan)
    before_retry(run)
    retry = ActivityEnvironment()
    started = datetime.now(UTC)  # an attempt with a minute to go: time to wait out a 429
    retry.info = dataclasses.replace(
        retry.info, attempt=2, started_time=started, start_to_close_timeout=timedelta(minutes=1)
    )
    receipt = await retry.run(activities.report_progress, plan)
    return run, receipt.messages["plan-1"]


async def test_a_message_with_our_metadata_from_someone_else_is_not_taken_for_ours(
    slack: SlackApiServer, reporter: SlackReporter
) -> None:
    def forge(run: Run) -> None:  # what the lookup meets: it must not take it for the plan it never posted
        metadata = {"event_type": STEP_EVENT, "event_payload": {"workflow_id": "research-1", "step": "plan-1"}}
        slack.workspace.post("CRESEARCH", user=ALICE, text="forged", thread_ts=run.messages["root"], metadata=metadata)

    refused = lambda: slack.rate_limit("chat.postMessage")  # noqa: E731 (attempt 1 posts nothing)
    run, plan_ts = await _plan_retried(slack, reporter, refused, forge)
    ours = [m for m in thread_of(slack, run) if m["ts"] == plan_ts]
    assert ours and ours[0].get("user") == slack.workspace.bot_user_id, "the plan is posted, not the forgery taken"
    assert len(slack.calls_to("auth.test")) == 1


async def test_a_rate_limited_lookup_waits_as_slack_says_and_finds_the_post(slack: SlackApiServer) -> None:
    client = AsyncWebClient(token=slack.workspace.bot_token, base_url=slack.base_url, retry_handlers=[])
    reporter = SlackReporter(client, RecordingReporter(), writes=SlackWrites({}), progress=ProgressMode.UPDATE)
    run, plan_ts = await _plan_retried(
        slack,
        reporter,
        lambda: slack.lose_response("chat.postMessage", how="error"),  # posted, the answer lost
        lambda _: slack.rate_limit("conversations.replies", times=2, retry_after=1),
    )
    posted = [m for m in thread_of(slack, run) if m.get("metadata")]
    assert [m["ts"] for m in posted] == [run.messages["root"], plan_ts], "found, not posted twice"
    assert len(slack.calls_to("conversations.replies")) == 3, "two 429s, then the lookup that found it"
