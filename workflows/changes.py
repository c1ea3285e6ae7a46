"""What changed since a scheduled run's previous run: its draft compared with the schedule's last archived
report (activities/archive/changes.py), shown at the top of the draft (slack_ui/what_changed.py).

Only runs a schedule started compare (``ResearchRequest.schedule``); the comparison is a new activity, so
it is patched: a scheduled run started before it presents its drafts as it did (docs/versioning.md).
"""

from __future__ import annotations

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from workflows.activity_io import CompareInput
    from workflows.calls import ChangeCalls
    from workflows.declaring import call
    from workflows.evidence import cut
    from workflows.models import Draft, ResearchRequest, WhatChanged

__all__ = ["WHAT_CHANGED_PATCH", "with_changes"]

WHAT_CHANGED_PATCH = "what-changed"


async def with_changes(request: ResearchRequest, workflow_id: str, draft: Draft) -> Draft:
    """``draft`` with what changed since its schedule's previous run; unchanged for a run no schedule
    started, or one started before this. A comparison that fails says why, and the draft goes on."""
    if request.schedule is None or not workflow.patched(WHAT_CHANGED_PATCH):
        return draft
    compare = CompareInput(workflow_id=workflow_id, schedule=request.schedule, text=draft.text, sources=draft.sources)
    try:
        changes = await call(ChangeCalls.compare_with_previous_run, compare)
    except ActivityError as failure:
        why = str(failure.cause or failure) or "the comparison failed"
        workflow.logger.warning("what changed since the previous run: %s", why)
        changes = WhatChanged(problem=cut(why, 200))
    return draft.model_copy(update={"changes": changes})
