"""A run's step is posted to Slack once, whichever attempts of its report run at the same time.

Temporal starts another attempt when it stops hearing from one (a start-to-close or heartbeat timeout)
while the first may still be alive, its post held in Slack's rate budget. Each step is claimed in the
database first (activities/slack/step_posts.py): the newest attempt owns it, an older one's post is
withdrawn when its turn comes, and the ts is recorded so a retry needs no Slack read to find it.
Two reporters here are two workers, each with its own rate budget, sharing the archive database."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from slack_sdk.web.async_client import AsyncWebClient
from temporalio.exceptions import ApplicationError

from activities.archive.store import ArchiveStore
from activities.slack.lookup import STEP_EVENT
from activities.slack.reporter import SlackReporter
from activities.slack.step_posts import StepPosts
from activities.slack.streams import ProgressMode
from activities.slack.writes import SlackWrites
from sandbox import SlackApiServer
from tests.activities.slack_runs import RecordingReporter, Run, context_in
from tests.support.waiting import eventually
from workflows.activity_io import ProgressKind


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def worker(slack: SlackApiServer, http: httpx.AsyncClient, steps: StepPosts) -> SlackReporter:
    """One worker's reporter: its own client and rate budget, the shared database's fence."""
    client = AsyncWebClient(token=slack.workspace.bot_token, base_url=slack.base_url, retry_handlers=[])
    writes = SlackWrites({}, rate_limited_tries=3)
    return SlackReporter(client, RecordingReporter(), http, writes=writes, progress=ProgressMode.UPDATE, steps=steps)


def attempt(reporter: SlackReporter, workflow_id: str) -> Run:
    run = Run(reporter, context_in())
    run.status = run.status.model_copy(update={"workflow_id": workflow_id})
    return run


def roots(slack: SlackApiServer, workflow_id: str) -> list[str]:
    return [
        m["ts"]
        for m in slack.workspace.messages["CRESEARCH"]
        if (m.get("metadata") or {}).get("event_type") == STEP_EVENT
        and m["metadata"]["event_payload"] == {"workflow_id": workflow_id, "step": "root"}
    ]


async def test_an_attempt_still_holding_its_post_sends_nothing_once_a_newer_one_owns_the_step(
    slack: SlackApiServer, store: ArchiveStore, http: httpx.AsyncClient
) -> None:
    steps = StepPosts(store.engine)
    workflow_id = f"research-{uuid.uuid4().hex[:8]}"
    first, second = attempt(worker(slack, http, steps), workflow_id), attempt(worker(slack, http, steps), workflow_id)
    # The first attempt's post meets a 429: it waits in its worker's line for 2 s, still alive...
    slack.rate_limit("chat.postMessage", retry_after=2)
    held = asyncio.create_task(first.send(ProgressKind.STARTED))
    await eventually(lambda: len(slack.calls_to("chat.postMessage")) == 1, "the first attempt's post met its 429")
    # ...while Temporal, having stopped hearing from it, runs the next attempt on another worker.
    receipt = await second.send(ProgressKind.STARTED)

    with pytest.raises(ApplicationError, match="newer attempt"):
        await held  # its turn came after the newer attempt had claimed the step: withdrawn, unsent
    assert roots(slack, workflow_id) == [receipt.messages["root"]]


async def test_a_retry_finds_its_step_posted_without_reading_slack(
    slack: SlackApiServer, store: ArchiveStore, http: httpx.AsyncClient
) -> None:
    steps = StepPosts(store.engine)
    workflow_id = f"research-{uuid.uuid4().hex[:8]}"
    posted = await attempt(worker(slack, http, steps), workflow_id).send(ProgressKind.STARTED)
    # The attempt's answer never reached Temporal: the retry reports the same step, knowing nothing of it.
    again = await attempt(worker(slack, http, steps), workflow_id).send(ProgressKind.STARTED)

    assert again.messages["root"] == posted.messages["root"]
    assert roots(slack, workflow_id) == [posted.messages["root"]]
    assert not slack.calls_to("conversations.history")  # the fence knew its ts: no lookup in Slack


async def test_a_post_whose_sender_died_mid_request_is_found_in_slack_not_posted_again(
    slack: SlackApiServer, store: ArchiveStore, http: httpx.AsyncClient
) -> None:
    steps = StepPosts(store.engine, in_flight=0.5)
    workflow_id = f"research-{uuid.uuid4().hex[:8]}"
    # Slack takes the post, and the connection drops before its answer: the sender never records the ts.
    slack.lose_response("chat.postMessage")
    with pytest.raises(Exception):  # noqa: B017 - whichever error the cut connection raises
        await attempt(worker(slack, http, steps), workflow_id).send(ProgressKind.STARTED)
    receipt = await attempt(worker(slack, http, steps), workflow_id).send(ProgressKind.STARTED)

    assert len(roots(slack, workflow_id)) == 1
    assert roots(slack, workflow_id) == [receipt.messages["root"]]
    assert slack.calls_to("conversations.history")  # in flight, then quiet: the retry looked in Slack


async def test_without_the_database_a_report_still_posts(slack: SlackApiServer, http: httpx.AsyncClient) -> None:
    store = ArchiveStore("postgresql://postgres@127.0.0.1:1/test")  # nothing listens there
    try:
        workflow_id = f"research-{uuid.uuid4().hex[:8]}"
        receipt = await attempt(worker(slack, http, StepPosts(store.engine)), workflow_id).send(ProgressKind.STARTED)
    finally:
        store.dispose()
    assert roots(slack, workflow_id) == [receipt.messages["root"]]
