"""How a run tells people where it is: one activity, any reporter behind it.

The Slack reporter (activities/slack/reporter.py) posts into the channel's thread; the log reporter here
writes structured log lines, which is all the terminal front end and the operators need.
"""

from __future__ import annotations

from typing import Protocol

import structlog

from activities.heartbeat import heartbeating
from core import tracing
from workflows.activity_io import ProgressInput, ProgressReceipt
from workflows.calls import ProgressCalls
from workflows.declaring import implements

log = structlog.get_logger("researchbot.progress")


class Reporter(Protocol):
    async def report(self, progress: ProgressInput) -> ProgressReceipt: ...


class LogReporter:
    async def report(self, progress: ProgressInput) -> ProgressReceipt:
        status = progress.status
        log.info(
            f"run.{progress.kind.value}",
            workflow_id=status.workflow_id,
            stage=status.stage.value,
            draft_round=status.draft_round,
            searches=f"{status.searches_done}/{status.searches_total}",
            pages=f"{status.pages_read}/{status.pages_total}",
            sources=len(status.sources),
            outcome=progress.result.outcome.value if progress.result else None,
        )
        return ProgressReceipt()


class ProgressActivities:
    def __init__(self, reporter: Reporter) -> None:
        self._reporter = reporter

    @implements(ProgressCalls.report_progress)
    async def report_progress(self, progress: ProgressInput) -> ProgressReceipt:
        tracing.annotate(  # which report (the final one is FINISHED), on the activity's span (core/tracing.py)
            {
                "research.progress.kind": progress.kind.value,
                "research.stage": progress.status.stage.value,
                "research.outcome": progress.result.outcome.value if progress.result else None,
            }
        )
        async with heartbeating():  # a report can wait on Slack's rate limits; a dead worker must show sooner
            return await self._reporter.report(progress)
