"""A report's Export button: the archived run as a file (Markdown, HTML or PDF) in its thread.

The bot starts one short workflow per click, before it acks, with an id from the click: a click Slack
delivers twice uploads once. The run itself has ended (its report is published); the file is made from
the archive and uploaded by an activity (activities/slack/exports.py), retried while Slack is away.
"""

from __future__ import annotations

from temporalio import workflow
from temporalio.common import VersioningBehavior

with workflow.unsafe.imports_passed_through():
    from workflows.activity_io import ExportInput
    from workflows.calls import ExportCalls
    from workflows.declaring import call

__all__ = ["ReportExportWorkflow", "export_workflow_id"]


def export_workflow_id(export: ExportInput) -> str:
    return f"export-{export.export_id}"


@workflow.defn(versioning_behavior=VersioningBehavior.AUTO_UPGRADE)
class ReportExportWorkflow:
    @workflow.run
    async def run(self, export: ExportInput) -> bool:
        """True once the file is in the thread."""
        return await call(ExportCalls.upload_report_export, export)
