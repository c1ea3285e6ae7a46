"""A report's Export button, done: the archived run rendered as a file and uploaded into its thread.

Slack's upload takes three steps (https://docs.slack.dev/messaging/working-with-files#upload):
``files.getUploadURLExternal``, a POST of the bytes to the URL it gives, ``files.completeUploadExternal``
sharing the file in the thread. Both Web API calls are spent from the worker's Slack budget
(activities/slack/writes.py) as writes a person waits for. Slack's refusals become Temporal failures
that say whether a retry can help (activities/slack/limits.py).

The uploaded file's id goes into the activity's heartbeat before it is shared. If Slack shares the file but
its answer to files.completeUploadExternal is lost, the next attempt asks files.info about that id and,
finding it shared in the channel, is done: one file in the thread, not two.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import httpx
import structlog
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.archive.export import ExportFormat, render, report_document
from activities.archive.store import ArchiveStore
from activities.compute import compute
from activities.errors import permanent
from activities.heartbeat import heartbeating
from activities.slack.file_shares import shared_in
from activities.slack.limits import BUDGETS, Budget, slack_failure
from activities.slack.writes import SlackWrites
from slack_ui.mrkdwn import mention
from workflows.activity_io import ExportInput
from workflows.calls import ExportCalls
from workflows.declaring import implements

__all__ = ["EXPORT_BUDGETS", "ExportActivities", "export_filename"]

log = structlog.get_logger(__name__)

# Tier 4, 100+ a minute per workspace: https://docs.slack.dev/reference/methods/files.getUploadURLExternal,
# https://docs.slack.dev/reference/methods/files.completeUploadExternal; files.info asks after a lost answer.
EXPORT_BUDGETS = {
    "files.getUploadURLExternal": Budget(interval=0.6, burst=5),
    "files.completeUploadExternal": Budget(interval=0.6, burst=5),
    "files.info": BUDGETS["files.info"],
}
_NAMES = {ExportFormat.MD: "Markdown", ExportFormat.HTML: "HTML", ExportFormat.PDF: "PDF"}
_WITHIN = 45.0  # seconds a call may wait for its budget: inside the activity's 60 s start-to-close


def export_filename(workflow_id: str, format: ExportFormat) -> str:
    """``report-<workflow id>.pdf``, with only letters, digits, dots, dashes and underscores."""
    return f"report-{re.sub(r'[^A-Za-z0-9._-]+', '-', workflow_id)[:80]}.{format.value}"


@dataclass
class _Uploaded:
    """What an attempt got as far as: the heartbeat carries it to the next attempt."""

    file_id: str | None = None


class ExportActivities:
    def __init__(
        self, store: ArchiveStore, client: AsyncWebClient | None, http: httpx.AsyncClient, writes: SlackWrites
    ) -> None:
        self._store, self._client, self._http, self._writes = store, client, http, writes

    @implements(ExportCalls.upload_report_export)
    async def upload_report_export(self, export: ExportInput) -> bool:
        bound = log.bind(workflow_id=export.workflow_id, format=export.format, user=export.requested_by)
        client = self._client
        if client is None:
            raise permanent("this worker has no Slack token (SLACK_BOT_TOKEN), so it cannot upload an export")
        try:
            format = ExportFormat(export.format)
        except ValueError:
            raise permanent(f"unknown export format {export.format!r}") from None
        uploaded = _Uploaded()
        async with heartbeating(details=lambda: uploaded.file_id or ""):
            try:
                earlier = _earlier_upload()
                if earlier and await self._shared_already(client, earlier, export.channel_id):
                    bound.info("export.already_shared", file_id=earlier)  # the last attempt's answer was lost
                    return True
                data = await compute(self._render, export.workflow_id, format)
                await self._upload(client, export, format, data, uploaded)
            except SlackApiError as error:
                raise slack_failure(error) from None
        bound.info("export.uploaded", bytes=len(data))
        return True

    async def _shared_already(self, client: AsyncWebClient, file_id: str, channel: str) -> bool:
        """Whether the file an earlier attempt uploaded is shared in ``channel``: Slack took the share."""
        try:
            answer = await self._writes.read(
                "files.info", channel, lambda: client.files_info(file=file_id), within=_WITHIN
            )
        except SlackApiError as error:
            if error.response.get("error") in ("file_not_found", "file_deleted"):
                return False  # never shared (or removed since): upload it anew
            raise
        file = answer.get("file")
        return isinstance(file, dict) and channel in shared_in(file)

    def _render(self, workflow_id: str, format: ExportFormat) -> bytes:
        result = self._store.get(workflow_id)
        if result is None:  # a run archives its report just after posting it: a quick click comes first
            raise ApplicationError(f"run {workflow_id!r} is not in the archive yet; will retry", type="NotArchived")
        return render(report_document(result, self._store.evidence(workflow_id)), format)

    async def _upload(
        self, client: AsyncWebClient, export: ExportInput, format: ExportFormat, data: bytes, uploaded: _Uploaded
    ) -> None:
        channel = export.channel_id
        filename = export_filename(export.workflow_id, format)
        asked = await self._writes.write(
            "files.getUploadURLExternal",
            channel,
            lambda: client.files_getUploadURLExternal(filename=filename, length=len(data)),
            waited=True,
            within=_WITHIN,
        )
        sent = await self._http.post(str(asked["upload_url"]), content=data)
        if sent.status_code != 200:  # a fresh URL on the next attempt; nothing was shared yet
            raise RuntimeError(f"Slack's upload URL answered HTTP {sent.status_code}; will retry")
        uploaded.file_id = str(asked["file_id"])
        activity.heartbeat(uploaded.file_id)  # before the share: a lost answer leaves the id to the next attempt
        title = f"Research report ({_NAMES[format]})"
        await self._writes.write(
            "files.completeUploadExternal",
            channel,
            lambda: client.files_completeUploadExternal(
                files=[{"id": asked["file_id"], "title": title}],
                channel_id=channel,
                thread_ts=export.thread_ts,
                initial_comment=f"{mention(export.requested_by)}: the report as {_NAMES[format]}, with its "
                "sources and the evidence for each claim.",
            ),
            waited=True,
            within=_WITHIN,
        )


def _earlier_upload() -> str | None:
    """The file id the last attempt uploaded, from its heartbeat."""
    details = activity.info().heartbeat_details
    return details[0] if details and isinstance(details[0], str) and details[0] else None
