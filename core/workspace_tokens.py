"""Tokens each Slack workspace spent on research, per UTC day: the worker adds every model call's tokens
as the call ends (activities/model/llm.py), the bot reads the day's total before it starts a run (bot/caps.py,
RESEARCH_WORKSPACE_DAILY_TOKENS).

Kept in the archive database (DATABASE_URL), so a restart resets nothing and several bots and workers
sharing PostgreSQL agree. Runs already under way when the budget runs out finish (each within its own
per-run budget): the cap stops new runs, it does not cut a run short. activities/archive/store.py migrates it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

__all__ = ["WorkspaceTokens", "next_day", "today", "workspace_tokens"]

metadata = sa.MetaData()
workspace_tokens = sa.Table(
    "workspace_tokens",
    metadata,
    sa.Column("team_id", sa.Text, primary_key=True),
    sa.Column("day", sa.Date, primary_key=True),  # UTC
    sa.Column("tokens", sa.BigInteger, nullable=False),
)


def today(now: datetime | None = None) -> date:
    return (now or datetime.now(UTC)).astimezone(UTC).date()


def next_day(now: datetime | None = None) -> datetime:
    """When the budget of ``now``'s day is new again: the next midnight UTC."""
    return datetime.combine(today(now) + timedelta(days=1), time(), tzinfo=UTC)


class WorkspaceTokens:
    """The workspace_tokens table. Methods block: call them from a thread in async code."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(self, team_id: str, tokens: int, now: datetime | None = None) -> None:
        """``tokens`` more spent by ``team_id`` today: one atomic upsert, so workers adding at once lose none."""
        if tokens <= 0:
            return
        insert = postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert
        row = insert(workspace_tokens).values(team_id=team_id, day=today(now), tokens=tokens)
        added = row.on_conflict_do_update(
            index_elements=["team_id", "day"], set_={"tokens": workspace_tokens.c.tokens + row.excluded.tokens}
        )
        with self.engine.begin() as connection:
            connection.execute(added)

    def spent(self, team_id: str, now: datetime | None = None) -> int:
        """What ``team_id`` has spent today (0 if nothing)."""
        query = sa.select(workspace_tokens.c.tokens).where(
            workspace_tokens.c.team_id == team_id, workspace_tokens.c.day == today(now)
        )
        with self.engine.connect() as connection:
            return int(connection.execute(query).scalar() or 0)
