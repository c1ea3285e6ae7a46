"""Which attempt may post a run's step to Slack, and the ts of the step once posted: a fence in the database.

Temporal runs another attempt of a report when it stops hearing from the first: the start-to-close
timeout, or a heartbeat timeout while the first is still alive (a paused machine, a starved event loop,
a worker cut off from Temporal but not from Slack). The first may then still be holding its post in
Slack's rate budget, and post it after the second looked for it in Slack and posted too: the step shows
twice. The deadline on held writes (activities/slack/lookup.py, ``attempt_deadline``) covers only the
first case.

So each post is claimed here first, per (workflow, step): the newest attempt to claim a step owns it, and
a write goes out only if its attempt still owns the step when its turn comes (``start_sending``). The ts
is recorded when Slack answers, so a retry finds the step posted without reading Slack at all (and
``conversations.replies`` is Tier 1 for some installs). A step whose sender died mid-request is
``in flight`` until ``IN_FLIGHT_SECONDS`` pass; then the retry looks in Slack as before.

Without an answer from the database, every method says "unknown" and the caller does what it did before
this table (look in Slack on a retry, then post): the fence helps, its absence never stops a post.

The table lives in the archive database (DATABASE_URL): activities/archive/store.py migrates it.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, TypeVar

import sqlalchemy as sa
import structlog
from slack_sdk.errors import SlackApiError
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from temporalio import activity

__all__ = ["IN_FLIGHT_SECONDS", "Claim", "ClaimLost", "StepPosts", "attempt_owner", "slack_step_posts"]

log = structlog.get_logger(__name__)
T = TypeVar("T")

# Longer than one post can take: the Slack client's timeout (slack_ui/client.py, 15 s) and a margin.
IN_FLIGHT_SECONDS = 20.0
RETENTION = timedelta(days=30)  # longer than any run lives; a swept row only costs a lookup in Slack
SWEEP_EVERY = 1_000  # claims between two sweeps of old rows

metadata = sa.MetaData()
slack_step_posts = sa.Table(
    "slack_step_posts",
    metadata,
    sa.Column("workflow_id", sa.Text, primary_key=True),
    sa.Column("step", sa.Text, primary_key=True),  # the step key in the message metadata: root, draft-1, …
    sa.Column("owner", sa.Text, nullable=False),  # the attempt that may post it (attempt_owner)
    sa.Column("state", sa.Text, nullable=False),  # State
    sa.Column("ts", sa.Text, nullable=True),  # the message, once posted
    sa.Column("sending_since", sa.DateTime(timezone=True), nullable=True),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, index=True),
)


class State(StrEnum):
    CLAIMED = "claimed"  # owned, nothing sent
    SENDING = "sending"  # a request is on its way to Slack (or its sender died)
    SENT = "sent"  # posted: ts


class ClaimLost(Exception):
    """A newer attempt owns this step now: this attempt's post is withdrawn, unsent."""


@dataclass(frozen=True)
class Claim:
    """What a claim found: the step posted already (``ts``), a post possibly in flight (``in_flight``),
    or the step now this attempt's, with ``fresh`` when no attempt had claimed it before."""

    ts: str | None = None
    in_flight: bool = False
    fresh: bool = False
    known: bool = True  # False: the database did not answer

    @property
    def posted(self) -> bool:
        return self.ts is not None


UNKNOWN = Claim(known=False)


def attempt_owner() -> str:
    """This activity attempt, as the owner of the steps it claims (a new one outside an activity)."""
    if not activity.in_activity():
        return f"local-{uuid.uuid4().hex}"
    info = activity.info()
    return f"{info.workflow_run_id}/{info.activity_id}#{info.attempt}"


class StepPosts:
    """The slack_step_posts table. The async methods run the queries in a thread and never raise on
    a database error: they log it and answer "unknown"."""

    def __init__(self, engine: Engine | None, *, in_flight: float = IN_FLIGHT_SECONDS) -> None:
        self.engine = engine  # None: no fence (every answer "unknown"), as before this table
        self.in_flight = in_flight  # how long a post on its way is waited for before it counts as lost
        self._claims = 0

    async def claim(self, workflow_id: str, step: str, owner: str) -> Claim:
        """Claim the step for ``owner``; a post of another attempt in flight is waited for first."""
        claim = await self._safely(self._claim, workflow_id, step, owner, default=UNKNOWN)
        if claim.in_flight:
            claim = await self.settled(workflow_id, step, owner)
        return claim

    async def fenced(self, workflow_id: str, step: str, owner: str, post: Callable[[], Awaitable[Any]]) -> Any:
        """Send a claimed step's post only while ``owner`` still owns the step (else ClaimLost), and
        record the ts Slack gave it."""
        if not await self.start_sending(workflow_id, step, owner):
            raise ClaimLost(step)
        try:
            response = await post()
        except SlackApiError as error:
            if error.response.status_code in (200, 429):  # Slack answered no: nothing was posted
                await self.not_sent(workflow_id, step, owner)
            raise
        if ts := response.get("ts"):
            await self.sent(workflow_id, step, owner, str(ts))
        return response

    async def start_sending(self, workflow_id: str, step: str, owner: str) -> bool:
        """Mark the step on its way to Slack, if ``owner`` still owns it; False if a newer attempt does.
        Unknown (no database) counts as True: the post goes, as it did before the fence."""
        return await self._safely(self._start_sending, workflow_id, step, owner, default=True)

    async def not_sent(self, workflow_id: str, step: str, owner: str) -> None:
        """Slack refused the post (it answered, with an error or a 429): nothing is in flight."""
        await self._safely(self._set, workflow_id, step, owner, State.CLAIMED, None, default=None)

    async def sent(self, workflow_id: str, step: str, owner: str, ts: str) -> None:
        await self._safely(self._set, workflow_id, step, owner, State.SENT, ts, default=None)

    async def settled(self, workflow_id: str, step: str, owner: str) -> Claim:
        """Wait for a post in flight to land or fail, then claim again; past ``in_flight`` seconds, take
        the step over (``fresh=False``: its sender may have died after Slack had it, so the caller looks)."""
        loop = asyncio.get_running_loop()
        until = loop.time() + self.in_flight
        while loop.time() < until:
            await asyncio.sleep(0.25)
            claim = await self._safely(self._claim, workflow_id, step, owner, default=UNKNOWN)
            if not claim.in_flight:
                return claim
        return await self._safely(self._take_over, workflow_id, step, owner, default=UNKNOWN)

    # ------------------------------------------------------------ the queries (blocking)

    def _claim(self, workflow_id: str, step: str, owner: str) -> Claim:
        now = datetime.now(UTC)
        key = _key(workflow_id, step)
        with self.engine.begin() as connection:
            row = connection.execute(_locked(sa.select(slack_step_posts).where(key), connection)).first()
            if row is None:
                try:
                    with connection.begin_nested():
                        connection.execute(
                            slack_step_posts.insert().values(
                                workflow_id=workflow_id, step=step, owner=owner, state=State.CLAIMED, updated_at=now
                            )
                        )
                except IntegrityError:  # another attempt claimed it at the same moment: it is newer
                    return self._claim_existing(connection, key, owner, now)
                self._sweep_sometimes(connection, now)
                return Claim(fresh=True)
            return self._decide(connection, key, row, owner, now)

    def _claim_existing(self, connection: Connection, key: sa.ColumnElement[bool], owner: str, now: datetime) -> Claim:
        row = connection.execute(_locked(sa.select(slack_step_posts).where(key), connection)).one()
        return self._decide(connection, key, row, owner, now)

    def _decide(
        self, connection: Connection, key: sa.ColumnElement[bool], row: sa.Row[Any], owner: str, now: datetime
    ) -> Claim:
        if row.state == State.SENT:
            return Claim(ts=row.ts)
        if row.state == State.SENDING and row.owner != owner:
            since = row.sending_since
            if since is not None and (now - _aware(since)).total_seconds() < self.in_flight:
                return Claim(in_flight=True)
            # Its sender went quiet mid-request: the post may be in Slack. Take it, and look first.
            connection.execute(
                slack_step_posts.update().where(key).values(owner=owner, state=State.CLAIMED, updated_at=now)
            )
            return Claim()
        # Claimed by an attempt that never sent it (or by this one): nothing is in Slack; it is this attempt's now.
        connection.execute(slack_step_posts.update().where(key).values(owner=owner, updated_at=now))
        return Claim(fresh=row.state == State.CLAIMED)

    def _take_over(self, workflow_id: str, step: str, owner: str) -> Claim:
        now = datetime.now(UTC)
        key = _key(workflow_id, step)
        with self.engine.begin() as connection:
            row = connection.execute(_locked(sa.select(slack_step_posts).where(key), connection)).first()
            if row is not None and row.state == State.SENT:
                return Claim(ts=row.ts)
            connection.execute(
                slack_step_posts.update().where(key).values(owner=owner, state=State.CLAIMED, updated_at=now)
            )
        return Claim()

    def _start_sending(self, workflow_id: str, step: str, owner: str) -> bool:
        now = datetime.now(UTC)
        statement = (
            slack_step_posts.update()
            .where(
                _key(workflow_id, step),
                slack_step_posts.c.owner == owner,
                slack_step_posts.c.state.in_([State.CLAIMED, State.SENDING]),
            )
            .values(state=State.SENDING, sending_since=now, updated_at=now)
        )
        with self.engine.begin() as connection:
            return connection.execute(statement).rowcount == 1

    def _set(self, workflow_id: str, step: str, owner: str, state: State, ts: str | None) -> None:
        condition = [_key(workflow_id, step)]
        if state is State.CLAIMED:
            condition.append(slack_step_posts.c.owner == owner)  # only the sender takes back its own "sending"
        values = {"state": state, "updated_at": datetime.now(UTC), **({"ts": ts} if ts else {})}
        with self.engine.begin() as connection:
            connection.execute(slack_step_posts.update().where(*condition).values(**values))

    def _sweep_sometimes(self, connection: Connection, now: datetime) -> None:
        self._claims += 1
        if self._claims % SWEEP_EVERY == 0:
            connection.execute(slack_step_posts.delete().where(slack_step_posts.c.updated_at < now - RETENTION))

    async def _safely(self, query: Callable[..., Any], *args: str, default: T) -> T:
        if self.engine is None:
            return default
        try:
            return await asyncio.to_thread(query, *args)
        except SQLAlchemyError as error:
            log.warning("slack_step_posts_unavailable", error=str(error).splitlines()[0])
            return default


def _key(workflow_id: str, step: str) -> sa.ColumnElement[bool]:
    return sa.and_(slack_step_posts.c.workflow_id == workflow_id, slack_step_posts.c.step == step)


def _locked(query: sa.Select[Any], connection: Connection) -> sa.Select[Any]:
    """FOR UPDATE on PostgreSQL, so two workers' claims of a step take turns; SQLite serialises writers."""
    return query.with_for_update() if connection.dialect.name == "postgresql" else query


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # SQLite hands back naive datetimes
