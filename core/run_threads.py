"""Which run a Slack thread belongs to, without asking Slack: the worker writes a row when it posts a
run's root message (activities/slack/reporter.py), the bot reads it for every reply in a thread (bot/from_thread.py).

A reply in a thread that is no run's, or from someone who may not act, then costs no Slack call at all:
``conversations.replies`` is Tier 1 (one a minute) for commercially distributed apps outside the
Marketplace installed since May 2025. Threads of runs started before this table existed are found the
old way, by reading the thread's first messages (``known_since``).

The table lives in the archive database (DATABASE_URL): activities/archive/store.py migrates it.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from core.database import database_url_of

__all__ = ["RunThreads", "run_threads"]

metadata = sa.MetaData()
run_threads = sa.Table(
    "run_threads",
    metadata,
    sa.Column("channel_id", sa.Text, primary_key=True),
    sa.Column("thread_ts", sa.Text, primary_key=True),  # the run's thread in Slack: the root, or the asking message
    sa.Column("team_id", sa.Text, nullable=False),
    sa.Column("workflow_id", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)


class RunThreads:
    """The run_threads table. Methods block: call them from a thread in async code."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._since: str | None = None

    @classmethod
    def connect(cls, database_url: str) -> RunThreads:
        return cls(sa.create_engine(database_url_of(database_url), pool_pre_ping=True))

    def remember(self, team_id: str, channel_id: str, thread_ts: str, workflow_id: str) -> None:
        """The thread ``thread_ts`` of ``channel_id`` is run ``workflow_id``'s; the first writer wins (a
        follow-up in the same thread does not take it over)."""
        row = {
            "team_id": team_id,
            "channel_id": channel_id,
            "thread_ts": thread_ts,
            "workflow_id": workflow_id,
            "created_at": datetime.now(UTC),
        }
        try:
            with self.engine.begin() as connection:
                connection.execute(run_threads.insert().values(**row))
        except IntegrityError:
            pass  # already known: a retried post, or the thread's earlier run

    def run_of(self, channel_id: str, thread_ts: str) -> str | None:
        """The workflow id of the run whose thread this is, or None."""
        query = sa.select(run_threads.c.workflow_id).where(
            run_threads.c.channel_id == channel_id, run_threads.c.thread_ts == thread_ts
        )
        with self.engine.connect() as connection:
            return connection.execute(query).scalar()

    def known_since(self) -> str | None:
        """The oldest thread recorded (a Slack ts), or None: a thread older than this may be a run's
        that was never recorded (started before the table existed)."""
        if self._since is None:
            with self.engine.connect() as connection:
                self._since = connection.execute(sa.select(sa.func.min(run_threads.c.thread_ts))).scalar()
        return self._since

    def dispose(self) -> None:
        self.engine.dispose()
