"""A stream of refused decisions does not grow a run's status without bound."""

from __future__ import annotations

from datetime import UTC, datetime

from workflows.gate import MAX_REFUSED_KEPT, with_refused
from workflows.models import DecisionKind, DecisionRecord

AT = datetime(2026, 1, 1, tzinfo=UTC)


def _record(n: int, applied: bool) -> DecisionRecord:
    return DecisionRecord(
        kind=DecisionKind.APPROVE, draft_round=1, decided_by=f"U{n}", at=AT, via="signal", applied=applied
    )


def test_only_the_latest_refusals_are_kept_and_applied_decisions_never_go() -> None:
    records = [_record(0, applied=True)]
    for n in range(1, 1_000):
        records = with_refused(records, _record(n, applied=False))
    assert len(records) == 1 + MAX_REFUSED_KEPT
    assert records[0].applied and records[0].decided_by == "U0"
    assert [r.decided_by for r in records[1:]] == [f"U{n}" for n in range(1_000 - MAX_REFUSED_KEPT, 1_000)]
