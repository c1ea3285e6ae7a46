"""compare_with_previous_run (activities/archive/changes.py) against the archive on SQLite and PostgreSQL:
two archived runs of one schedule, and a third run's draft compared with the newest report."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from temporalio.testing import ActivityEnvironment

from activities.archive.changes import ChangeActivities, run_prefix, says
from activities.archive.store import ArchiveStore
from workflows.activity_io import CompareInput
from workflows.models import (
    ClaimEvidence,
    Outcome,
    ResearchResult,
    ScheduleRef,
    Source,
    SourceEvidence,
    TokenUsage,
    WhatChanged,
)

SCHEDULE = ScheduleRef(schedule_id="schedule-T1-C1-0123456789abcdef")
RUNS = "research-T1-U1-C1-0123456789abcdef0123-"  # the schedule's run id: each run adds its time
DURABLE = "Temporal keeps workflow state durable across worker crashes"
BACKOFF = "Activities are retried with exponential backoff"
ATTEMPTS = "The retry policy sets a maximum of 5 attempts"
DOCS = Source(number=1, url="https://docs.temporal.io/workflows", title="Workflows")
RETRIES = Source(number=2, url="https://docs.temporal.io/retries", title="Retries")
SCHEDULES = Source(number=3, url="https://docs.temporal.io/schedules", title="Schedules")
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def a_run(when: datetime, answer: str, sources: list[Source], outcome: Outcome = Outcome.APPROVED) -> ResearchResult:
    return ResearchResult(
        workflow_id=f"{RUNS}{when:%Y-%m-%dT%H:%M:%SZ}",
        question="What changed in Temporal's retries?",
        requested_by="U1",
        outcome=outcome,
        answer=answer if outcome is Outcome.APPROVED else "",
        steps_taken=5,
        sources=sources,
        revision_rounds=0,
        usage=TokenUsage(),
        decisions=[],
        started_at=when,
        finished_at=when + timedelta(minutes=20),
    )


def evidence(*cited: tuple[Source, list[str]]) -> list[SourceEvidence]:
    return [
        SourceEvidence(
            number=s.number, url=s.url, title=s.title, claims=[ClaimEvidence(claim=c, supported=True) for c in claims]
        )
        for s, claims in cited
    ]


async def compare(store: ArchiveStore, when: datetime, text: str, sources: list[Source]) -> WhatChanged:
    data = CompareInput(workflow_id=f"{RUNS}{when:%Y-%m-%dT%H:%M:%SZ}", schedule=SCHEDULE, text=text, sources=sources)
    return await ActivityEnvironment().run(ChangeActivities(store).compare_with_previous_run, data)


async def test_a_third_run_is_compared_with_the_newest_report_of_its_schedule(store: ArchiveStore) -> None:
    first = a_run(T0, f"{DURABLE} [1]. Workers poll task queues [1].", [DOCS])
    store.save(first, evidence((DOCS, [DURABLE, "Workers poll task queues"])))
    week = timedelta(days=7)
    second = a_run(T0 + week, f"{DURABLE} [1]. {BACKOFF} [2]. {ATTEMPTS} [2].", [DOCS, RETRIES])
    store.save(second, evidence((DOCS, [DURABLE]), (RETRIES, [BACKOFF, ATTEMPTS])))
    # A Run now that was rejected has no report to compare with; another schedule's run, and a later run
    # of this one, are not this run's previous.
    store.save(a_run(T0 + week + timedelta(days=1), "", [DOCS], Outcome.REJECTED))
    store.save(a_run(T0 + 3 * week, "Later [1].", [SCHEDULES]))
    other = a_run(T0 + week, "Other [1].", [SCHEDULES]).model_copy(
        update={"workflow_id": f"research-T1-U1-C1-ffffffffffffffffffff-{T0 + week:%Y-%m-%dT%H:%M:%SZ}"}
    )
    store.save(other)

    draft = (
        "Temporal keeps the workflow state durable across worker crashes [1]. "  # reworded: still holds
        "Activities are not retried with exponential backoff [2]. "  # turned around: new, and BACKOFF is gone
        "The retry policy sets a maximum of 5 attempts [2]. ⚠ unverified\n"  # kept, but no longer verified
        "- Schedules start runs at fixed times [3]."
    )
    changes = await compare(store, T0 + 2 * week, draft, [DOCS, RETRIES, SCHEDULES])

    assert changes.earlier_runs == 3 and changes.problem is None
    assert changes.previous_workflow_id == second.workflow_id and changes.previous_at == second.finished_at
    assert [s.url for s in changes.new_sources] == [SCHEDULES.url] and changes.new_sources_total == 1
    assert changes.new_claims == [
        "Activities are not retried with exponential backoff.",
        "Schedules start runs at fixed times.",
    ]
    assert changes.dropped_claims == [BACKOFF, ATTEMPTS] and changes.dropped_claims_total == 2


async def test_a_report_archived_without_evidence_is_read_from_its_text(store: ArchiveStore) -> None:
    store.save(a_run(T0, f"{DURABLE} [1]. Uncited words. {BACKOFF} [2].", [DOCS, RETRIES, SCHEDULES]))
    changes = await compare(store, T0 + timedelta(days=1), f"{DURABLE} [1].", [DOCS])
    assert changes.new_sources == [] and changes.new_claims == []
    assert changes.dropped_claims == [f"{BACKOFF}."]


async def test_the_first_run_and_a_schedule_with_no_report_yet(store: ArchiveStore) -> None:
    first = await compare(store, T0, f"{DURABLE} [1].", [DOCS])
    assert first == WhatChanged(earlier_runs=0)
    store.save(a_run(T0, "", [DOCS], Outcome.EXPIRED))
    after_an_expired_run = await compare(store, T0 + timedelta(days=1), f"{DURABLE} [1].", [DOCS])
    assert after_an_expired_run == WhatChanged(earlier_runs=1)


async def test_lists_are_bounded_and_counted(store: ArchiveStore) -> None:
    old = [
        f"Fact number {word} about durable workflows"
        for word in ("one", "two", "three", "four", "five", "six", "seven")
    ]
    store.save(a_run(T0, " ".join(f"{c} [1]." for c in old), [DOCS]))
    long_claim = "Brand new " + "very " * 200 + "long claim"
    changes = await compare(store, T0 + timedelta(days=1), f"{long_claim} [1].", [DOCS])
    assert changes.dropped_claims_total == 7 and len(changes.dropped_claims) == 5
    (new,) = changes.new_claims
    assert len(new) == 300 and new.endswith("…")


def test_the_word_check_tells_a_claim_from_its_negation_and_other_numbers() -> None:
    said = says([BACKOFF, ATTEMPTS])
    assert said("activities are retried, with exponential backoff!")  # the same words
    assert said("Activities get retried with an exponential backoff")  # the same content words
    assert not said("Activities are never retried with exponential backoff")
    assert not said("The retry policy sets a maximum of 7 attempts")
    assert not said("Schedules start runs at fixed times")


def test_a_run_id_names_its_schedule_runs_by_its_time() -> None:
    assert run_prefix(f"{RUNS}2026-12-07T08:00:00Z") == RUNS
    assert run_prefix("research-T1-U1-C1-abc") is None  # not a schedule's run: nothing to compare with
