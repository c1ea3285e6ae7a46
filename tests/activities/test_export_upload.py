"""The Export button's activity: an archived run (SQLite and PostgreSQL) rendered and uploaded into its thread
in the sandbox Slack through Slack's three-step upload; what it does when Slack or the archive says no."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import httpx
import pytest
from slack_sdk.web.async_client import AsyncWebClient
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.archive.export import ExportFormat, render, report_document
from activities.archive.store import ArchiveStore
from activities.slack.exports import EXPORT_BUDGETS, ExportActivities
from activities.slack.writes import SlackWrites
from sandbox import SlackApiServer
from tests.activities.test_export import hostile_run
from workflows.activity_io import ExportInput

ALICE = "UALICE"


@pytest.fixture
async def exports(store: ArchiveStore, slack: SlackApiServer) -> AsyncIterator[ExportActivities]:
    client = AsyncWebClient(token=slack.workspace.bot_token, base_url=slack.base_url, retry_handlers=[])
    async with httpx.AsyncClient() as http:
        yield ExportActivities(store, client, http, SlackWrites(EXPORT_BUDGETS))


def an_export(thread_ts: str, channel_id: str = "CRESEARCH", **changes: str) -> ExportInput:
    fields = {"workflow_id": "research-export-1", "format": "pdf", "requested_by": ALICE, "export_id": "click-1"}
    return ExportInput(**{**fields, **changes}, channel_id=channel_id, thread_ts=thread_ts)


async def test_the_file_goes_into_the_thread(store: ArchiveStore, slack: SlackApiServer, exports) -> None:
    result, evidence = hostile_run("research-export-1")
    store.save(result, evidence)
    root = slack.workspace.post("CRESEARCH", text="the run's root")

    for format in ExportFormat:
        assert await ActivityEnvironment().run(exports.upload_report_export, an_export(root["ts"], format=format))

    shared = [m for m in slack.workspace.messages["CRESEARCH"] if m.get("files")]
    assert [m["thread_ts"] for m in shared] == [root["ts"]] * 3
    assert shared[0]["text"].startswith(f"<@{ALICE}>: the report as Markdown")
    names = [f["name"] for m in shared for f in m["files"]]
    assert names == [f"report-research-export-1.{f.value}" for f in ExportFormat]
    document = report_document(store.get("research-export-1"), store.evidence("research-export-1"))  # type: ignore[arg-type]
    for message, format in zip(shared, ExportFormat, strict=True):
        content = slack.workspace.files[message["files"][0]["id"]]["content"]
        if format is ExportFormat.PDF:
            assert content.startswith(b"%PDF-")  # made again, so byte for byte only the text formats
        else:
            assert content == render(document, format)
    assert [c.method for c in slack.calls].count("files.completeUploadExternal") == 3


async def test_a_refused_channel_fails_for_good(store: ArchiveStore, slack: SlackApiServer, exports) -> None:
    result, evidence = hostile_run("research-export-1")
    store.save(result, evidence)
    with pytest.raises(ApplicationError) as refused:
        await ActivityEnvironment().run(exports.upload_report_export, an_export("1.000001", channel_id="CSECRET"))
    assert refused.value.non_retryable and "not_in_channel" in str(refused.value)
    assert not any(m.get("files") for ms in slack.workspace.messages.values() for m in ms)


async def test_a_run_not_archived_yet_is_retried(slack: SlackApiServer, exports) -> None:
    root = slack.workspace.post("CRESEARCH", text="the run's root")
    with pytest.raises(ApplicationError) as waiting:
        await ActivityEnvironment().run(exports.upload_report_export, an_export(root["ts"]))
    assert not waiting.value.non_retryable and "not in the archive yet" in str(waiting.value)
    assert "files.getUploadURLExternal" not in [c.method for c in slack.calls]


async def test_a_lost_answer_to_the_share_does_not_share_a_second_copy(
    store: ArchiveStore, slack: SlackApiServer, exports
) -> None:
    """Slack shared the file, its answer was lost: the retry finds the file shared (files.info on the id the
    first attempt's heartbeat kept) and is done."""
    result, evidence = hostile_run("research-export-1")
    store.save(result, evidence)
    root = slack.workspace.post("CRESEARCH", text="the run's root")
    slack.lose_response("files.completeUploadExternal")
    first = ActivityEnvironment()
    beats: list[object] = []
    first.on_heartbeat = lambda *details: beats.extend(details)
    with pytest.raises(Exception):  # noqa: B017 - the cut connection, whatever the client makes of it
        await first.run(exports.upload_report_export, an_export(root["ts"]))
    retry = ActivityEnvironment()
    retry.info = dataclasses.replace(retry.info, attempt=2, heartbeat_details=[beats[-1]])
    assert await retry.run(exports.upload_report_export, an_export(root["ts"]))
    shared = [m for m in slack.workspace.messages["CRESEARCH"] if m.get("files")]
    assert len(shared) == 1 and shared[0]["thread_ts"] == root["ts"]
    assert [c.method for c in slack.calls].count("files.completeUploadExternal") == 1


async def test_an_upload_never_shared_is_uploaded_again(store: ArchiveStore, slack: SlackApiServer) -> None:
    """The first attempt uploaded the bytes and gave up before the share (Slack refused it): the retry
    shares a file."""
    result, evidence = hostile_run("research-export-1")
    store.save(result, evidence)
    root = slack.workspace.post("CRESEARCH", text="the run's root")
    slack.rate_limit("files.completeUploadExternal", retry_after=1)
    client = AsyncWebClient(token=slack.workspace.bot_token, base_url=slack.base_url, retry_handlers=[])
    async with httpx.AsyncClient() as http:
        # One 429 is enough for the attempt to give up, as its last try would.
        exports = ExportActivities(store, client, http, SlackWrites(EXPORT_BUDGETS, rate_limited_tries=1))
        first = ActivityEnvironment()
        beats: list[object] = []
        first.on_heartbeat = lambda *details: beats.extend(details)
        with pytest.raises(Exception):  # noqa: B017 - refused, the attempt gives up
            await first.run(exports.upload_report_export, an_export(root["ts"]))
        assert beats and beats[-1]
        retry = ActivityEnvironment()
        retry.info = dataclasses.replace(retry.info, attempt=2, heartbeat_details=[beats[-1]])
        assert await retry.run(exports.upload_report_export, an_export(root["ts"]))
    shared = [m for m in slack.workspace.messages["CRESEARCH"] if m.get("files")]
    assert len(shared) == 1
