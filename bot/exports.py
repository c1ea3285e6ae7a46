"""A report's Export button, from the bot's side: who may export, and starting the upload inside Slack's 3 s.

Only the asker and the people in RESEARCH_APPROVERS get the file. The click starts a short workflow
(workflows/exports.py) whose id comes from the click, so a click Slack delivers twice uploads once; the
file is made from the archive and uploaded by the worker (activities/slack/exports.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import structlog
from temporalio.client import Client

from bot.click_workflows import start_once
from bot.decisions import decision_id
from core.settings import Settings
from slack_ui.exports import EXPORT_FORMATS
from slack_ui.ids import field, parse_workflow_id
from slack_ui.mrkdwn import mention
from workflows.activity_io import ExportInput
from workflows.exports import ReportExportWorkflow, export_workflow_id

__all__ = ["START_WAIT", "export_input", "may_not_export", "start_export"]

log = structlog.get_logger(__name__)

START_WAIT = timedelta(seconds=2)
NOT_STARTED = "Sorry, the research service did not answer in time, so nothing was exported. Try again."


def may_not_export(settings: Settings, workflow_id: str, user: str) -> str | None:
    """Why ``user`` may not export this run's report, or None: the asker and the approvers may."""
    if user in settings.research_approvers:
        return None
    address = parse_workflow_id(workflow_id)
    if address is not None and user == address.user_id:
        return None
    asker = f"{mention(address.user_id)}, who asked, and " if address else ""
    return f"Only {asker}the configured approvers can export this report."


def export_input(body: Mapping[str, Any], action: Mapping[str, Any], workflow_id: str, format: str) -> ExportInput:
    """The upload a click asks for: into the thread of the message it was on."""
    user = field(body, "user", "id")
    message = body.get("message") if isinstance(body.get("message"), Mapping) else {}
    thread_ts = message.get("thread_ts") if isinstance(message.get("thread_ts"), str) else None
    click = decision_id("export", workflow_id, user, str(action.get("action_ts", "")), format)
    return ExportInput(
        workflow_id=workflow_id,
        format=format,
        channel_id=field(body, "channel", "id"),
        thread_ts=thread_ts or field(body, "message", "ts"),
        requested_by=user,
        export_id=click,
    )


async def start_export(temporal: Client, settings: Settings, export: ExportInput) -> str:
    """Start the click's upload; what to tell the person."""
    bound = log.bind(workflow_id=export.workflow_id, user=export.requested_by, format=export.format)
    try:
        await start_once(
            temporal,
            ReportExportWorkflow.run,
            export,
            id=export_workflow_id(export),
            task_queue=settings.research_task_queue,
            within=START_WAIT,
        )
    except Exception as error:
        bound.warning("export.not_started", error=str(error) or repr(error))
        return NOT_STARTED
    bound.info("export.started")
    return f"Exporting the report as {EXPORT_FORMATS[export.format]}: the file will be in this thread in a moment."
