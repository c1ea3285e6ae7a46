"""What changed since a schedule's previous run: a scheduled run's draft against the last report archived
by the same schedule (docs/schedules.md).

A schedule's runs are the workflows whose id is the schedule's run id plus the time Temporal appends
(``research-<team>-<creator>-<channel>-<digest>-2026-12-07T08:00:00Z``), so the archive rows with this
run's id less its time, and an earlier time, are its earlier runs; the newest with a report is compared.
Its claims are the evidence archive's (the statements each cited source was checked for), or, for a run
archived without evidence, the report's cited sentences; its sources, those it cites.

Whether one claim says another is the citation check's word check (activities/verify.py), with the
claims of one side as the "pages": the other side's claim must find its weighted content words (70%),
every number, the same polarity, every absolute word and every name in one claim. Deterministic and
cheap, and unlike bare word overlap it does not take "X is not retried" for "X is retried". The model's
judge is neither: a claim reworded past the word check shows as one new claim and one that no longer
holds, side by side, which errs on the side of showing a reviewer a difference rather than hiding one.
A claim of the previous report that this draft makes only marked "⚠ unverified" no longer holds either.
"""

from __future__ import annotations

import asyncio
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import sqlalchemy as sa
import structlog

from activities.archive.store import ArchiveStore, research_evidence, research_runs
from activities.compute import compute
from activities.heartbeat import heartbeating
from activities.verify import SupportIndex
from workflows.activity_io import CompareInput
from workflows.calls import ChangeCalls
from workflows.claims import UNVERIFIED_MARK, split_claims
from workflows.declaring import implements
from workflows.evidence import cut
from workflows.guardrails import cited_numbers
from workflows.models import MAX_CHANGED_CLAIM_CHARS, MAX_CHANGED_ITEMS, Outcome, Source, WhatChanged

__all__ = ["ChangeActivities", "compare", "run_prefix", "says"]

log = structlog.get_logger(__name__)

# The time Temporal appends to a schedule's run id: "-2026-12-07T08:00:00Z".
_SCHEDULED_TIME = re.compile(r"-\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
_PUNCTUATION = re.compile(r"[^\w\s]")
_SPACE_BEFORE_STOP = re.compile(r"\s+([.,;:!?])")  # where a citation was: "durable [1]." is "durable ."


@dataclass
class PreviousReport:
    """The claims and cited URLs of the schedule's newest archived report, and how many runs came before."""

    earlier_runs: int
    workflow_id: str | None = None
    finished_at: datetime | None = None
    claims: list[str] = field(default_factory=list)
    urls: set[str] = field(default_factory=set)


def run_prefix(workflow_id: str) -> str | None:
    """The schedule's run id, from one of its runs' ids (None: not the id of a scheduled run)."""
    match = _SCHEDULED_TIME.search(workflow_id)
    return workflow_id[: match.start() + 1] if match else None  # keeps the "-" before the time


def read_previous(store: ArchiveStore, workflow_id: str) -> PreviousReport:
    """The newest report archived by the schedule of ``workflow_id`` before it (blocking)."""
    prefix = run_prefix(workflow_id)
    if prefix is None:
        return PreviousReport(0)
    runs = research_runs.c
    # The range lets the primary key's index find them under any collation; LIKE alone may not.
    earlier = (
        (runs.workflow_id >= prefix)
        & (runs.workflow_id < workflow_id)
        & runs.workflow_id.startswith(prefix, autoescape=True)
    )
    with store.engine.connect() as connection:
        count = connection.execute(sa.select(sa.func.count()).where(earlier)).scalar_one()
        row = connection.execute(
            sa.select(runs.workflow_id, runs.answer, runs.sources, runs.finished_at)
            .where(earlier, runs.outcome == Outcome.APPROVED.value, runs.answer != "")
            .order_by(runs.workflow_id.desc())  # the ids end in the run's scheduled time
            .limit(1)
        ).first()
        if row is None:
            return PreviousReport(count)
        evidence = connection.execute(
            sa.select(research_evidence.c.url, research_evidence.c.claims)
            .where(research_evidence.c.workflow_id == row.workflow_id)
            .order_by(research_evidence.c.number)
        ).all()
    finished = row.finished_at.replace(tzinfo=UTC) if row.finished_at.tzinfo is None else row.finished_at
    previous = PreviousReport(count, row.workflow_id, finished.astimezone(UTC))
    if evidence:
        previous.urls = {url for url, _ in evidence}
        claims = [str(claim.get("claim", "")) for _, found in evidence for claim in found]
    else:  # archived before the evidence records: the report's own cited sentences and sources
        cited = set(cited_numbers(row.answer))
        previous.urls = {str(s["url"]) for s in row.sources if s.get("number") in cited}
        claims = [claim.statement for claim in split_claims(row.answer)]
    previous.claims = list(dict.fromkeys(c for c in claims if c.strip()))
    return previous


def normal(claim: str) -> str:
    """A claim compared as words: case, accents' forms, punctuation and spacing aside."""
    text = unicodedata.normalize("NFKC", claim).casefold()
    return " ".join(_PUNCTUATION.sub(" ", text).split())


def says(claims: Sequence[str]) -> Callable[[str], bool]:
    """Whether one of ``claims`` says a given claim: the same words, or the word check passes."""
    same = {normal(claim) for claim in claims}
    index = SupportIndex(dict(enumerate(claims)))
    numbers = list(index.by_number)
    return lambda claim: normal(claim) in same or index.supports(claim, numbers)[0]


def shown(claim: str) -> str:
    """A claim as the lists keep it: no space left where its citations were, bounded."""
    return cut(_SPACE_BEFORE_STOP.sub(r"\1", claim), MAX_CHANGED_CLAIM_CHARS)


def compare(text: str, sources: Sequence[Source], previous: PreviousReport) -> WhatChanged:
    """The draft ``text`` (citing ``sources``) against the previous report."""
    changes = WhatChanged(earlier_runs=previous.earlier_runs)
    if previous.workflow_id is None:
        return changes
    drafted = split_claims(text)
    claims = list(dict.fromkeys(claim.statement for claim in drafted if claim.statement))
    holding = [claim.statement for claim in drafted if UNVERIFIED_MARK not in claim.text and claim.statement]
    cited = set(cited_numbers(text))
    new_sources = [s for s in sources if s.number in cited and s.url not in previous.urls]
    said_before, said_now = says(previous.claims), says(holding)
    new_claims = [claim for claim in claims if not said_before(claim)]
    dropped = [claim for claim in previous.claims if not said_now(claim)]
    return changes.model_copy(
        update={
            "previous_workflow_id": previous.workflow_id,
            "previous_at": previous.finished_at,
            "new_sources": [s.model_copy(update={"title": cut(s.title, 200)}) for s in new_sources[:MAX_CHANGED_ITEMS]],
            "new_sources_total": len(new_sources),
            "new_claims": [shown(c) for c in new_claims[:MAX_CHANGED_ITEMS]],
            "new_claims_total": len(new_claims),
            "dropped_claims": [shown(c) for c in dropped[:MAX_CHANGED_ITEMS]],
            "dropped_claims_total": len(dropped),
        }
    )


class ChangeActivities:
    """``compare_with_previous_run``, reading the archive the runs are stored in."""

    def __init__(self, store: ArchiveStore) -> None:
        self._store = store

    @implements(ChangeCalls.compare_with_previous_run)
    async def compare_with_previous_run(self, input: CompareInput) -> WhatChanged:
        async with heartbeating():
            previous = await asyncio.to_thread(read_previous, self._store, input.workflow_id)
            changes = await compute(compare, input.text, input.sources, previous)
        log.info(
            "changes.compared",
            workflow_id=input.workflow_id,
            schedule_id=input.schedule.schedule_id,
            previous=changes.previous_workflow_id,
            new_claims=changes.new_claims_total,
            dropped_claims=changes.dropped_claims_total,
        )
        return changes
