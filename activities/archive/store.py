"""The archive: every finished research run, one row each, in SQLite or PostgreSQL, with the evidence
for its answer: one ``research_evidence`` row per cited source (how it was read, the passage behind each
claim).

A worker builds one ``ArchiveStore(settings.database_url)`` at start-up, calls ``migrate()``
(both raise ``ConfigError`` for a bad URL or an unreachable database), and registers
``StoreActivities(store).store_result``. Saving (the run and its evidence, in one
transaction) is idempotent by workflow id, so a retried activity never writes a run twice.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
import structlog
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine, RowMapping
from sqlalchemy.exc import OperationalError

from activities.errors import permanent
from activities.heartbeat import heartbeating
from activities.slack.step_posts import slack_step_posts
from core.database import database_url_of
from core.errors import ConfigError
from core.response_urls import response_urls
from core.run_threads import run_threads
from core.workspace_tokens import workspace_tokens
from workflows.activity_io import StoreInput
from workflows.calls import ArchiveCalls
from workflows.declaring import implements
from workflows.models import ClaimEvidence, DecisionRecord, ResearchResult, SourceEvidence

__all__ = [
    "ArchiveStore",
    "StoreActivities",
    "answer_feedback",
    "archive_write",
    "metadata",
    "research_evidence",
    "research_pages",
    "research_runs",
    "slack_budget",
    "slack_budget_finals",
    "slack_message_states",
]

log = structlog.get_logger(__name__)

T = TypeVar("T")

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Any fixed number will do; every worker must use the same one.
_MIGRATION_LOCK = 0x5265_7365_6172  # "Resear"
# Alembic keeps the running migration in module globals: one migration per process at a time.
_MIGRATING = threading.Lock()

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_NULLABLE_JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")
_TIME = sa.DateTime(timezone=True)

metadata = sa.MetaData()

# Keep in step with migrations/versions/: tests/test_store.py checks that they match.
research_runs = sa.Table(
    "research_runs",
    metadata,
    sa.Column("workflow_id", sa.Text, primary_key=True),
    sa.Column("question", sa.Text, nullable=False),
    sa.Column("requested_by", sa.Text, nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("answer", sa.Text, nullable=False),
    sa.Column("sources", _JSON, nullable=False),
    sa.Column("decisions", _JSON, nullable=False),
    sa.Column("feedback", sa.Text, nullable=True),  # every decision's feedback, one per line
    sa.Column("usage", _JSON, nullable=False),
    sa.Column("steps_taken", sa.Integer, nullable=False),
    sa.Column("revision_rounds", sa.Integer, nullable=False),
    sa.Column("slack_channel_id", sa.Text, nullable=True),
    sa.Column("slack", _NULLABLE_JSON, nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("started_at", _TIME, nullable=False),
    sa.Column("finished_at", _TIME, nullable=False),
    sa.Column("stored_at", _TIME, nullable=False),
    sa.Index("ix_research_runs_finished_at", "finished_at"),
    sa.Index("ix_research_runs_requested_by_finished_at", "requested_by", "finished_at"),
)

# The full text of every page a run read (activities/search/page_store.py): kept here, not in workflow history.
research_pages = sa.Table(
    "research_pages",
    metadata,
    sa.Column("workflow_id", sa.Text, primary_key=True),
    sa.Column("url_key", sa.String(64), primary_key=True),  # sha256 of the URL: URLs can be long
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("stored_at", _TIME, nullable=False),
)

# The evidence for a run's answer (workflows/evidence.py): one row per cited source, its claims as JSON
# ([{"claim", "passage", "score", "supported"}, ...]), written with the run.
research_evidence = sa.Table(
    "research_evidence",
    metadata,
    sa.Column("workflow_id", sa.Text, sa.ForeignKey("research_runs.workflow_id", ondelete="CASCADE"), primary_key=True),
    sa.Column("number", sa.Integer, primary_key=True),  # the [n] the answer cites it by
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("fetched_at", _TIME, nullable=True),
    sa.Column("http_status", sa.Integer, nullable=True),  # None: not read over HTTP (local:// or a snippet)
    sa.Column("sha256", sa.String(64), nullable=True),  # of the text read, as the run used it
    sa.Column("note", sa.Text, nullable=True),
    sa.Column("claims", _JSON, nullable=False),
)

# Each person's rating of a published report (activities/archive/ratings.py): their latest 👍 or 👎 click.
answer_feedback = sa.Table(
    "answer_feedback",
    metadata,
    sa.Column("feedback_id", sa.String(64), primary_key=True),
    sa.Column("workflow_id", sa.Text, nullable=False),
    sa.Column("rating", sa.String(16), nullable=False),
    sa.Column("given_by", sa.Text, nullable=False),
    sa.Column("given_at", _TIME, nullable=False),
    sa.Column("stored_at", _TIME, nullable=False),
    sa.Index("ux_answer_feedback_workflow_id_given_by", "workflow_id", "given_by", unique=True),
)

# Slack's rate budget of each line (activities/slack/shared_budget.py), shared by the workers on PostgreSQL: one
# row per workspace, method and scope (the channel for a per-channel method, else ''). Unused on SQLite.
slack_budget = sa.Table(
    "slack_budget",
    metadata,
    sa.Column("workspace", sa.Text, primary_key=True),  # a digest of the bot token: one app in one workspace
    sa.Column("method", sa.Text, primary_key=True),
    sa.Column("scope", sa.Text, primary_key=True),
    sa.Column("theoretical", _TIME, nullable=False),  # the GCRA's theoretical arrival time
    sa.Column("paused_until", _TIME, nullable=False),  # after a 429: no write before this
    sa.Column("last_grant", sa.Text, nullable=False),  # the ask that took the last slot
    # Until then a worker holds a run's last progress write: other workers' earlier states wait.
    sa.Column("finals_until", _TIME, nullable=False, server_default=sa.text("'1970-01-01 00:00:00+00'")),
)

# The oldest final progress state each worker holds for a line (activities/slack/shared_budget.py): a worker
# whose final is younger than another worker's waits for it, so finals go in the order their runs got there
# across workers, as on one. A row holds until ``until``, renewed by each ask; a dead worker's row lapses.
slack_budget_finals = sa.Table(
    "slack_budget_finals",
    metadata,
    sa.Column("workspace", sa.Text, primary_key=True),
    sa.Column("method", sa.Text, primary_key=True),
    sa.Column("scope", sa.Text, primary_key=True),
    sa.Column("worker", sa.Text, primary_key=True),  # one process's SharedBudget
    sa.Column("since", _TIME, nullable=False),  # when the workflow made the state final (its report's time)
    sa.Column("until", _TIME, nullable=False),
    sa.Index("ix_slack_budget_finals_until", "until"),  # the sweep of lapsed rows
)

# The newest state sent to each message that informs (a run's progress, its root's status), by the time
# its report was made in the workflow (activities/slack/shared_budget.py): an older state queued on one worker
# is not sent over a newer one another worker sent; kept for SLACK_MESSAGE_STATE_RETENTION_DAYS. Unused on SQLite.
slack_message_states = sa.Table(
    "slack_message_states",
    metadata,
    sa.Column("workspace", sa.Text, primary_key=True),
    sa.Column("message", sa.Text, primary_key=True),  # channel:ts
    sa.Column("reported_at", _TIME, nullable=False),
    # The send lease of the newest state's claim (migration 0014): a newer state waits for an older one's send.
    sa.Column("sender", sa.Text, nullable=False, server_default=""),
    sa.Column("sending_until", _TIME, nullable=False, server_default=sa.text("'1970-01-01 00:00:00+00'")),
    sa.Index("ix_slack_message_states_reported_at", "reported_at"),  # the retention's deletes
)


# Which run each Slack thread belongs to: defined beside the bot's reader (core/run_threads.py), migrated here.
run_threads.to_metadata(metadata)
response_urls.to_metadata(metadata)  # commands' response_urls, for the worker (core/response_urls.py)
workspace_tokens.to_metadata(metadata)  # each workspace's tokens per day, for its cap (core/workspace_tokens.py)
slack_step_posts.to_metadata(metadata)  # which attempt may post a run's step (activities/slack/step_posts.py)


class ArchiveStore:
    """Finished runs in a SQL database. Methods block: call them from a thread in async code."""

    def __init__(self, database_url: str) -> None:
        self.url = database_url_of(database_url)
        self.safe_url = self.url.render_as_string(hide_password=True)
        connect_args = {}
        if self.url.get_backend_name() == "postgresql" and "connect_timeout" not in self.url.query:
            connect_args["connect_timeout"] = 10
        self.engine: Engine = sa.create_engine(self.url, pool_pre_ping=True, connect_args=connect_args)

    def migrate(self) -> None:
        """Bring the schema up to date. Callers take turns: threads in this process through a
        lock, workers sharing a PostgreSQL database through an advisory lock."""
        with _MIGRATING, self._connect() as connection, connection.begin():
            if connection.dialect.name == "postgresql":
                # Released when this transaction ends, after the migrations have committed.
                connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
            command.upgrade(alembic_config(connection), "head")

    def schema(self) -> str:
        """``current``, ``empty`` (no schema yet) or ``older``, read without changing anything (``show``
        only reads: an archive from an older version is upgraded by a worker, never by a reader)."""
        with self._connect() as connection:
            current = set(MigrationContext.configure(connection).get_current_heads())
            heads = set(ScriptDirectory.from_config(alembic_config(connection)).get_heads())
        return "current" if current == heads else "empty" if not current else "older"

    def dispose(self) -> None:
        """Close pooled connections (tests, shutdown)."""
        self.engine.dispose()

    def save(self, result: ResearchResult, evidence: list[SourceEvidence] | None = None) -> bool:
        """Store a run with its evidence; True if it was new, False if this workflow id was already stored
        (then nothing is written: the first save wrote the run and its evidence together)."""
        insert = postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert
        statement = (
            insert(research_runs)
            .values(_to_row(result))
            .on_conflict_do_nothing(index_elements=["workflow_id"])
            .returning(research_runs.c.workflow_id)  # rowcount is not reliable across drivers
        )
        with self.engine.begin() as connection:
            inserted = connection.execute(statement).first() is not None
            if inserted and evidence:
                rows = [_evidence_row(result.workflow_id, record) for record in evidence]
                connection.execute(insert(research_evidence), rows)
            return inserted

    def get(self, workflow_id: str) -> ResearchResult | None:
        query = sa.select(research_runs).where(research_runs.c.workflow_id == workflow_id)
        with self.engine.connect() as connection:
            row = connection.execute(query).mappings().first()
        return _to_result(row) if row is not None else None

    def evidence(self, workflow_id: str) -> list[SourceEvidence]:
        """The evidence archived with a run, by source number (empty for runs archived without it)."""
        query = (
            sa.select(research_evidence)
            .where(research_evidence.c.workflow_id == workflow_id)
            .order_by(research_evidence.c.number)
        )
        with self.engine.connect() as connection:
            return [_to_evidence(row) for row in connection.execute(query).mappings()]

    def recent(self, requested_by: str | None = None, limit: int = 10) -> list[ResearchResult]:
        """The latest finished runs, newest first, optionally only one person's."""
        query = (
            sa.select(research_runs)
            .order_by(research_runs.c.finished_at.desc(), research_runs.c.workflow_id.desc())
            .limit(limit)
        )
        if requested_by is not None:
            query = query.where(research_runs.c.requested_by == requested_by)
        with self.engine.connect() as connection:
            return [_to_result(row) for row in connection.execute(query).mappings()]

    def _connect(self) -> Connection:
        try:
            return self.engine.connect()
        except OperationalError as exc:
            reason = (str(exc.orig).strip().splitlines() or ["no reason given"])[0].strip()
            if self.url.password:
                reason = reason.replace(self.url.password, "***")
            raise ConfigError(
                f"cannot connect to the database at DATABASE_URL {self.safe_url!r} ({reason}): "
                "check the URL and that the database is running"
            ) from None


class StoreActivities:
    def __init__(self, store: ArchiveStore) -> None:
        self._store = store

    @implements(ArchiveCalls.store_result)
    async def store_result(self, input: StoreInput) -> bool:
        workflow_id = input.result.workflow_id
        inserted = await archive_write("this run's data", workflow_id, self._store.save, input.result, input.evidence)
        log.info("run archived", workflow_id=workflow_id, inserted=inserted, evidence=len(input.evidence))
        return inserted


async def archive_write(what: str, workflow_id: str, write: Callable[..., T], *args: Any) -> T:
    """A blocking archive write, in a thread, heartbeating (a locked or slow database must not hide a
    dead worker). A database that is away or busy raises for Temporal to retry until it is back; data it
    refuses (refuses_the_data) fails at once, non-retryable, since no retry can help."""
    try:
        async with heartbeating():
            return await asyncio.to_thread(write, *args)
    except sa.exc.DBAPIError as error:
        if not refuses_the_data(error):
            raise
        reason = (str(error.orig).strip().splitlines() or ["no reason given"])[0]
        log.error("archive.refused", what=what, workflow_id=workflow_id, reason=reason)
        raise permanent(f"the archive refused {what}, so retrying cannot help: {reason}") from None


def refuses_the_data(error: sa.exc.DBAPIError) -> bool:
    """The database refused what we sent (a NUL character, a value past a limit), not its connection.
    SQLSTATE classes 22 (data exception) and 54 (program limit exceeded) never pass on a retry."""
    sqlstate = getattr(error.orig, "sqlstate", None) or ""
    # The driver's own DataError (psycopg refuses a NUL before sending) carries no SQLSTATE.
    return isinstance(error, sa.exc.DataError) or sqlstate[:2] in ("22", "54")


def alembic_config(connection: Connection) -> Config:
    """Alembic settings without an alembic.ini: migrations/env.py runs on ``connection``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


# ---------------------------------------------------------------- rows


def _utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything we store is UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _joined_feedback(decisions: list[DecisionRecord]) -> str | None:
    lines = [f"{d.decided_by} (round {d.draft_round}, {d.kind}): {d.feedback}" for d in decisions if d.feedback]
    return "\n".join(lines) or None


def _usage(result: ResearchResult) -> dict[str, object]:
    """The run's token usage and its ledger (tokens in and out, estimated cost, the prices used)."""
    ledger = result.ledger.model_dump(mode="json") if result.ledger else {}
    return {**result.usage.model_dump(mode="json"), **ledger, "budget_stopped": result.budget_stopped}


def _to_row(result: ResearchResult) -> dict[str, object]:
    slack = result.slack
    return {
        "workflow_id": result.workflow_id,
        "question": result.question,
        "requested_by": result.requested_by,
        "outcome": result.outcome.value,
        "answer": result.answer,
        "sources": [source.model_dump(mode="json") for source in result.sources],
        "decisions": [decision.model_dump(mode="json") for decision in result.decisions],
        "feedback": _joined_feedback(result.decisions),
        "usage": _usage(result),
        "steps_taken": result.steps_taken,
        "revision_rounds": result.revision_rounds,
        "slack_channel_id": slack.channel_id if slack else None,
        "slack": slack.model_dump(mode="json") if slack else None,
        "error": result.error,
        "started_at": _utc(result.started_at),
        "finished_at": _utc(result.finished_at),
        "stored_at": datetime.now(UTC),
    }


def _to_result(row: RowMapping) -> ResearchResult:
    fields = set(ResearchResult.model_fields)
    data = {key: value for key, value in row.items() if key in fields}
    data["started_at"] = _utc(row["started_at"])
    data["finished_at"] = _utc(row["finished_at"])
    return ResearchResult.model_validate(data)


def _evidence_row(workflow_id: str, record: SourceEvidence) -> dict[str, object]:
    return {
        "workflow_id": workflow_id,
        "number": record.number,
        "url": _no_nul(record.url),
        "title": _no_nul(record.title),
        "fetched_at": _utc(record.fetched_at) if record.fetched_at else None,
        "http_status": record.http_status,
        "sha256": record.sha256,
        "note": _no_nul(record.note) if record.note else None,
        "claims": [
            {**claim.model_dump(mode="json"), "claim": _no_nul(claim.claim), "passage": _no_nul(claim.passage)}
            for claim in record.claims
        ],
    }


def _no_nul(text: str) -> str:
    """Page text is the web's: a NUL (which PostgreSQL refuses) must not cost the run its archive."""
    return text.replace("\x00", "\ufffd")


def _to_evidence(row: RowMapping) -> SourceEvidence:
    return SourceEvidence(
        number=row["number"],
        url=row["url"],
        title=row["title"],
        fetched_at=_utc(row["fetched_at"]) if row["fetched_at"] else None,
        http_status=row["http_status"],
        sha256=row["sha256"],
        note=row["note"],
        claims=[ClaimEvidence.model_validate(claim) for claim in row["claims"]],
    )
