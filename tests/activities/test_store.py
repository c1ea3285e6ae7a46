"""The archive against a real SQLite file and the real PostgreSQL on 127.0.0.1:5432."""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from structlog.testing import capture_logs
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.archive.store import (
    _MIGRATION_LOCK,
    ArchiveStore,
    StoreActivities,
    alembic_config,
    metadata,
    research_evidence,
    research_runs,
)
from core.errors import ConfigError
from workflows.activity_io import StoreInput
from workflows.models import (
    ClaimEvidence,
    DecisionKind,
    DecisionRecord,
    Outcome,
    ResearchResult,
    SlackContext,
    Source,
    SourceEvidence,
    TokenUsage,
)

T0 = datetime(2025, 11, 26, 9, 30, 15, 123456, tzinfo=UTC)


# ---------------------------------------------------------------- databases


def a_result(workflow_id: str = "research-1", requested_by: str = "U1", **changes: object) -> ResearchResult:
    result = ResearchResult(
        workflow_id=workflow_id,
        question="How do Temporal updates differ from signals?",
        requested_by=requested_by,
        outcome=Outcome.APPROVED,
        answer="Updates return a result to the caller [1]; signals do not [2].",
        steps_taken=7,
        sources=[
            Source(number=1, url="https://docs.temporal.io/updates", title="Updates"),
            Source(number=2, url="https://docs.temporal.io/signals", title="Signals"),
        ],
        revision_rounds=1,
        usage=TokenUsage(prompt_tokens=1200, completion_tokens=345, calls=4),
        decisions=[
            DecisionRecord(
                kind=DecisionKind.REVISE,
                draft_round=1,
                decided_by="U2",
                feedback="cite the docs",
                decision_id="d-1",
                at=T0 + timedelta(minutes=5),
                via="update",
            ),
            DecisionRecord(
                kind=DecisionKind.APPROVE,
                draft_round=2,
                decided_by="U2",
                at=T0 + timedelta(minutes=9),
                via="signal",
            ),
        ],
        started_at=T0,
        finished_at=T0 + timedelta(minutes=10),
        slack=SlackContext(channel_id="C1", user_id=requested_by, team_id="T1", thread_ts="1.2"),
    )
    return result.model_copy(update=changes)


EVIDENCE = [
    SourceEvidence(
        number=1,
        url="https://docs.temporal.io/updates",
        title="Updates",
        fetched_at=T0 + timedelta(seconds=3),
        http_status=200,
        sha256="ab" * 32,
        claims=[
            ClaimEvidence(
                claim="Updates return a result to the caller.",
                passage="An update returns a result to its caller.",
                score=0.92,
                supported=True,
            )
        ],
    ),
    SourceEvidence(
        number=2,
        url="https://docs.temporal.io/signals",
        title="Signals",
        sha256="cd" * 32,
        note="the search snippet from brave: the page could not be read (HTTP 403)",
        claims=[ClaimEvidence(claim="Signals do not.", score=0.4)],
    ),
]


# ---------------------------------------------------------------- schema


def test_migrating_twice_is_a_no_op(store: ArchiveStore) -> None:
    store.save(a_result())
    store.migrate()
    with store.engine.connect() as connection:
        head = ScriptDirectory.from_config(alembic_config(connection)).get_current_head()
        assert MigrationContext.configure(connection).get_current_revision() == head
    assert store.get("research-1") == a_result()


def test_migrations_create_the_table_the_code_writes(store: ArchiveStore) -> None:
    with store.engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), metadata) == []


def test_migrating_from_two_threads_at_once_on_postgres(postgres_url: str) -> None:
    stores = [ArchiveStore(postgres_url) for _ in range(2)]
    start = threading.Barrier(len(stores))
    errors: list[BaseException] = []

    def migrate(store: ArchiveStore) -> None:
        start.wait()
        try:
            store.migrate()
        except BaseException as exc:  # collected and asserted on below
            errors.append(exc)

    threads = [threading.Thread(target=migrate, args=(store,), daemon=True) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert stores[0].save(a_result()) is True
    for store in stores:
        store.dispose()


def test_migrate_waits_while_another_worker_holds_the_lock_on_postgres(postgres_url: str) -> None:
    store = ArchiveStore(postgres_url)
    migration = threading.Thread(target=store.migrate, daemon=True)

    with psycopg.connect(postgres_url) as other_worker:
        other_worker.execute("SELECT pg_advisory_lock(%s)", (_MIGRATION_LOCK,))
        migration.start()
        migration.join(timeout=1)
        assert migration.is_alive(), "migrate() did not wait for the advisory lock"
    migration.join(timeout=30)  # closing the other connection released its lock

    assert not migration.is_alive()
    assert store.save(a_result()) is True
    store.dispose()


def test_an_archive_from_before_the_evidence_table_is_upgraded(database_url: str) -> None:
    store = ArchiveStore(database_url)
    with store.engine.begin() as connection:
        command.upgrade(alembic_config(connection), "0002")
    assert store.save(a_result()) is True  # archived by a worker from before evidence was kept

    store.migrate()

    with store.engine.connect() as connection:
        head = ScriptDirectory.from_config(alembic_config(connection)).get_current_head()
        assert MigrationContext.configure(connection).get_current_revision() == head
        assert compare_metadata(MigrationContext.configure(connection), metadata) == []
    assert store.get("research-1") == a_result() and store.evidence("research-1") == []
    assert store.save(a_result("research-2"), EVIDENCE) is True
    assert store.evidence("research-2") == EVIDENCE
    store.dispose()


# ---------------------------------------------------------------- save, get, recent


def test_save_then_get_gives_back_every_field(store: ArchiveStore) -> None:
    result = a_result(error="one page could not be read")

    assert store.save(result) is True

    assert store.get("research-1") == result
    assert store.get("no-such-run") is None
    with store.engine.connect() as connection:
        row = connection.execute(sa.select(research_runs)).mappings().one()
    assert row["feedback"] == "U2 (round 1, revise): cite the docs"
    assert row["slack_channel_id"] == "C1"
    assert row["stored_at"] is not None


def test_saving_a_run_twice_keeps_the_first(store: ArchiveStore) -> None:
    assert store.save(a_result(answer="first")) is True
    assert store.save(a_result(answer="second", outcome=Outcome.FAILED)) is False
    assert store.get("research-1") == a_result(answer="first")


def test_evidence_is_saved_with_its_run_and_read_back_by_source_number(store: ArchiveStore) -> None:
    assert store.save(a_result(), list(reversed(EVIDENCE))) is True
    assert store.evidence("research-1") == EVIDENCE
    assert store.evidence("no-such-run") == []
    with store.engine.connect() as connection:
        rows = connection.execute(sa.select(research_evidence).order_by(research_evidence.c.number)).mappings().all()
    assert [(r["workflow_id"], r["number"], r["http_status"]) for r in rows] == [
        ("research-1", 1, 200),
        ("research-1", 2, None),
    ]
    assert rows[0]["claims"][0] == {
        "claim": "Updates return a result to the caller.",
        "passage": "An update returns a result to its caller.",
        "score": 0.92,
        "supported": True,
    }


def test_a_nul_in_a_pages_text_does_not_cost_the_run_its_archive(store: ArchiveStore) -> None:
    claim = ClaimEvidence(claim="Updates \x00 return.", passage="An update\x00 returns.", score=0.9, supported=True)
    poisoned = EVIDENCE[0].model_copy(update={"title": "Up\x00dates", "claims": [claim]})
    assert store.save(a_result(), [poisoned]) is True
    [kept] = store.evidence("research-1")
    assert kept.title == "Up\ufffddates" and kept.claims[0].passage == "An update\ufffd returns."


def test_saving_a_run_twice_keeps_its_first_evidence(store: ArchiveStore) -> None:
    assert store.save(a_result(), EVIDENCE) is True
    other = [EVIDENCE[0].model_copy(update={"title": "Changed", "claims": []})]
    assert store.save(a_result(), other) is False
    assert store.evidence("research-1") == EVIDENCE


def test_recent_is_newest_first_and_filters_by_person(store: ArchiveStore) -> None:
    for n, person in enumerate(["U1", "U2", "U1", "U1"]):
        finished_at = T0 + timedelta(hours=n)
        store.save(a_result(f"research-{n}", requested_by=person, finished_at=finished_at))

    newest_first = ["research-3", "research-2", "research-1", "research-0"]
    assert [r.workflow_id for r in store.recent()] == newest_first
    assert [r.workflow_id for r in store.recent("U1", limit=2)] == ["research-3", "research-2"]
    assert [r.workflow_id for r in store.recent("U2")] == ["research-1"]
    assert store.recent("nobody") == []


# ---------------------------------------------------------------- the activity


async def test_store_result_activity_saves_once(store: ArchiveStore) -> None:
    activities = StoreActivities(store)
    env = ActivityEnvironment()

    with capture_logs() as logs:
        first = await env.run(activities.store_result, StoreInput(result=a_result(), evidence=EVIDENCE))
        again = await env.run(activities.store_result, StoreInput(result=a_result(), evidence=EVIDENCE))

    assert (first, again) == (True, False)
    archived = [event for event in logs if event["event"] == "run archived"]  # whatever else logs meanwhile
    logged = [(event["workflow_id"], event["inserted"], event["evidence"]) for event in archived]
    assert logged == [("research-1", True, 2), ("research-1", False, 2)]
    assert store.get("research-1") == a_result() and store.evidence("research-1") == EVIDENCE


@pytest.mark.parametrize(
    "poison",
    [
        {"question": "a NUL \x00 character"},  # PostgreSQL text cannot hold NUL
        {"workflow_id": os.urandom(6000).hex()},  # past the primary key index's row size limit
    ],
    ids=["nul", "over-long-id"],
)
async def test_data_the_database_refuses_fails_at_once_not_forever(postgres_url: str, poison: dict) -> None:
    store = ArchiveStore(postgres_url)
    store.migrate()
    try:
        with pytest.raises(ApplicationError) as failure:
            await ActivityEnvironment().run(StoreActivities(store).store_result, StoreInput(result=a_result(**poison)))
    finally:
        store.dispose()
    assert failure.value.non_retryable and "refused this run's data" in str(failure.value)


async def test_an_unreachable_database_is_retried(tmp_path) -> None:
    store = ArchiveStore("postgresql://nobody@127.0.0.1:1/archive?connect_timeout=1")
    with pytest.raises(sa.exc.OperationalError):  # not an ApplicationError: Temporal retries it
        await ActivityEnvironment().run(StoreActivities(store).store_result, StoreInput(result=a_result()))


# ---------------------------------------------------------------- URLs and config errors


def test_postgres_urls_use_psycopg() -> None:
    for url in ("postgres://me@db.example/archive", "postgresql://me@db.example/archive"):
        assert ArchiveStore(url).url.drivername == "postgresql+psycopg"


def test_a_relative_sqlite_path_gets_its_folder(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = ArchiveStore("sqlite:///.data/researchbot.db")
    store.migrate()
    assert (tmp_path / ".data" / "researchbot.db").is_file()


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("mysql://me:hunter2@db/runs", "DATABASE_URL 'mysql://me:***@db/runs' is not supported"),
        ("not a url", "DATABASE_URL 'not a url' is not a database URL"),
        ("", "is not a database URL"),
        ("sqlite://", "is not a file"),
        ("sqlite:///:memory:", "is not a file"),
    ],
)
def test_bad_urls_say_what_to_fix(url: str, says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        ArchiveStore(url)
    message = str(caught.value)
    assert says in message
    assert "hunter2" not in message and "\n" not in message


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://me:hunter2@127.0.0.1:1/archive",  # nothing listens on port 1
        "sqlite:///{tmp_path}",  # a folder, not a file
    ],
)
def test_an_unreachable_database_is_a_config_error(url: str, tmp_path) -> None:
    store = ArchiveStore(url.format(tmp_path=tmp_path))
    with pytest.raises(ConfigError, match="cannot connect to the database") as caught:
        store.migrate()
    assert "hunter2" not in str(caught.value) and "\n" not in str(caught.value)


def test_the_schema_is_read_without_changing_it(tmp_path) -> None:
    store = ArchiveStore(f"sqlite:///{tmp_path}/archive.db")
    try:
        assert store.schema() == "empty"
        assert store.schema() == "empty", "reading it created nothing"
        store.migrate()
        assert store.schema() == "current"
        with store.engine.begin() as connection:
            command.downgrade(alembic_config(connection), "-1")
        assert store.schema() == "older"
    finally:
        store.dispose()
