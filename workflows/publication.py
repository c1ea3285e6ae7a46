"""A schedule's run that publishes without review: its creator chose `--publish` (bot/schedules.py sets
``ResearchRequest.publish_when_verified``), and the citation check verified every claim of the first draft.

Anything less (a claim marked or removed, a declined answer, a guardrail problem, a draft a person has
already answered) waits for review as any run does. The approval is recorded as a decision by
PUBLISHER, via ``"schedule"``, so the thread says who published it and why, and the archive keeps it.
Runs without the field (every run started before it existed) never take this path, so their histories
replay unchanged (docs/versioning.md, rule 2).
"""

from __future__ import annotations

from datetime import datetime

from workflows.models import DecisionKind, DecisionRecord, ResearchRequest, RunStatus

__all__ = ["PUBLISHED_WHY", "PUBLISHER", "unreviewed_approval"]

PUBLISHER = "ResearchBot"
PUBLISHED_WHY = "every claim verified, so published without review, as this schedule asks"


def unreviewed_approval(request: ResearchRequest, status: RunStatus, now: datetime) -> DecisionRecord | None:
    """The approval a verified draft of a publishing schedule's run gets without a person, or None."""
    draft = status.draft
    if not request.publish_when_verified or request.schedule is None or status.decisions or draft is None:
        return None
    check = draft.check
    if draft.violations or check is None or check.declined or check.removed or check.marked:
        return None
    if check.claims == 0 or check.verified != check.claims:
        return None
    return DecisionRecord(
        kind=DecisionKind.APPROVE,
        draft_round=draft.round,
        decided_by=PUBLISHER,
        feedback=PUBLISHED_WHY,
        at=now,
        via="schedule",
    )
