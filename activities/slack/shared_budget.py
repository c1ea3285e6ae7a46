"""Slack's rate budget shared by every worker of a workspace, kept in PostgreSQL.

Each worker schedules its own Slack writes (activities/slack/writes.py), but Slack counts the writes of
all workers against one budget per method and workspace (per channel for chat.postMessage). With two
workers each spending a whole budget, they meet each other's 429s, and a click's update waits out
Retry-After pauses. When DATABASE_URL is PostgreSQL, each line's budget state lives in one row of
``slack_budget`` (activities/archive/store.py): the theoretical arrival time of the generic cell-rate algorithm,
and, after a 429, when the pause ends. Taking a slot is one statement on that row, timed by the
database's clock, so two workers can never both take the last slot, and their clocks need not agree.

The database helps, it is not needed: when it does not answer in time, :meth:`SharedBudget.take`
returns None and the worker's in-process budget schedules that write (as on SQLite). The outage is
logged once, and the database is asked again after ``retry_after`` seconds, so an unreachable database
costs one short wait per ``retry_after``, never a lost or stuck write.

``slack_message_states`` keeps the newest state sent to each informing message for ``retention``
(SLACK_MESSAGE_STATE_RETENTION_DAYS), longer than a run's status update is retried; each process deletes
older rows at most once an hour, after a claim. A state reported before the horizon is refused, so a
deleted row can never let an old state through over a newer one.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.engine import URL, Engine

from activities.slack.limits import Budget

__all__ = ["SEND_LEASE", "Claim", "SharedBudget", "Slot", "workspace_key"]

log = structlog.get_logger(__name__)

ANSWER_WITHIN = 1.0  # seconds a write waits for the database before the in-process budget decides
THREADS = 8  # asks at once: about one per line (chat.update, the streaming methods, a channel's posts)
RETRY_AFTER = 15.0  # seconds the in-process budget decides alone after the database failed to answer
# Seconds a message's send lease holds if its sender never says the send was answered (a dead worker): a
# send slower than this can still land after a newer state's. Slack answers a chat.update in well under it.
SEND_LEASE = 10.0
FINAL_HOLD = 2.0  # slots a final state's ask keeps earlier states off the line: until its worker asks again

# The line's row is created by its first write (granted at once) and locked by ON CONFLICT, so the
# workers' asks on one line take turns. ``now`` is read once per statement, before the row lock: a
# statement that waited for another's lock reads a clock a few milliseconds old, which can only make a
# slot come that much early after a quiet spell (the budgets are a little under Slack's, for that).
# ``last_grant`` names the ask that took the last slot, so the answer says exactly whether it was this one.
# A run's last progress state (``final``) goes before the earlier states of other runs on every worker,
# as it does on one: its ask, granted or not, holds the line (``finals_until``) until ``hold`` seconds
# past the next slot, so its worker's next ask finds it held; meanwhile an earlier state's ask is
# refused and told to come back when the hold ends. A final ask ``behind`` another worker's older final
# (_ANNOUNCE) is refused too, and told to come back half a slot after the next, when the older one has gone.
_TAKE = sa.text(
    """
    WITH now AS (SELECT clock_timestamp() AS t)
    INSERT INTO slack_budget AS line (workspace, method, scope, theoretical, paused_until, last_grant, finals_until)
    SELECT :workspace, :method, :scope, t + make_interval(secs => :interval), t, :ask,
        CASE WHEN :final THEN t + make_interval(secs => :hold) ELSE t END FROM now
    ON CONFLICT (workspace, method, scope) DO UPDATE SET
        theoretical = CASE
            WHEN greatest(line.theoretical - make_interval(secs => :span), line.paused_until) <= (SELECT t FROM now)
                AND (:final OR :waited OR line.finals_until <= (SELECT t FROM now)) AND NOT :behind
            THEN greatest(line.theoretical, (SELECT t FROM now)) + make_interval(secs => :interval)
            ELSE line.theoretical END,
        last_grant = CASE
            WHEN greatest(line.theoretical - make_interval(secs => :span), line.paused_until) <= (SELECT t FROM now)
                AND (:final OR :waited OR line.finals_until <= (SELECT t FROM now)) AND NOT :behind
            THEN :ask
            ELSE line.last_grant END,
        finals_until = CASE
            WHEN :final THEN greatest(
                line.finals_until, greatest(line.theoretical, (SELECT t FROM now)) + make_interval(secs => :hold))
            ELSE line.finals_until END
    RETURNING
        line.last_grant = :ask AS granted,
        extract(epoch FROM CASE
            WHEN :behind AND line.last_grant <> :ask
            THEN greatest(line.theoretical, (SELECT t FROM now) + make_interval(secs => :span + :interval / 2))
            WHEN :final OR :waited THEN line.theoretical
            ELSE greatest(line.theoretical, line.finals_until) END - (SELECT t FROM now)) AS theoretical,
        extract(epoch FROM line.paused_until - (SELECT t FROM now)) AS paused,
        (SELECT t FROM now) AS at
    """
)

# A final ask first announces the worker's oldest final on the line (one row per worker, renewed by each ask,
# lapsing after ``hold``) and learns whether another worker holds an older one: then it is ``behind``. So the
# workers send finals in the order their runs got there, as one worker does, not each its own half of the
# slots (a worker with the longer backlog fell behind by half). A granted final hands its announcement to the
# worker's next final (``then``) at once, so no other worker's younger one slips in before that one asks.
_ANNOUNCE = sa.text(
    """
    WITH announced AS (
        INSERT INTO slack_budget_finals AS waiting (workspace, method, scope, worker, since, until)
        VALUES (:workspace, :method, :scope, :worker, :since, clock_timestamp() + make_interval(secs => :hold))
        ON CONFLICT (workspace, method, scope, worker) DO UPDATE SET since = excluded.since, until = excluded.until
    )
    SELECT EXISTS (
        SELECT 1 FROM slack_budget_finals
        WHERE workspace = :workspace AND method = :method AND scope = :scope AND worker <> :worker
            AND since < :since AND until > clock_timestamp()
    ) AS behind
    """
)
_HAND_OVER = sa.text(
    "UPDATE slack_budget_finals SET since = :then, until = clock_timestamp() + make_interval(secs => :hold)"
    " WHERE workspace = :workspace AND method = :method AND scope = :scope AND worker = :worker"
)
_WITHDRAW = sa.text(
    "DELETE FROM slack_budget_finals WHERE workspace = :workspace AND method = :method AND scope = :scope"
    " AND worker = :worker"
)

# A 429 answered to one worker pauses the line for all: no worker writes on it before Retry-After.
_PAUSE = sa.text(
    """
    WITH now AS (SELECT clock_timestamp() AS t)
    INSERT INTO slack_budget AS line (workspace, method, scope, theoretical, paused_until, last_grant)
    SELECT :workspace, :method, :scope, t, t + make_interval(secs => :seconds), '' FROM now
    ON CONFLICT (workspace, method, scope) DO UPDATE SET
        paused_until = greatest(line.paused_until, excluded.paused_until)
    """
)

# The state reported at ``reported_at`` may go to the message unless a newer one went already (equal:
# the same report, sent again after a 429, or two made in one workflow task). A state reported before the
# retention's horizon never goes: the newer state it would overwrite may have been deleted (_SWEEP).
# A claim also takes the message's send lease (``sender``, ``sending_until``) until its send is answered
# (_RELEASE): a newer state claimed meanwhile by another worker waits for it (``busy``: how long the lease
# still runs), so the older send cannot land after the newer one. (The outer SELECT sees the row as it was
# before the claim.)
_NEWEST = sa.text(
    """
    WITH claimed AS (
        INSERT INTO slack_message_states AS state (workspace, message, reported_at, sender, sending_until)
        SELECT :workspace, :message, :reported_at, :sender, clock_timestamp() + make_interval(secs => :lease)
        WHERE :reported_at >= clock_timestamp() - make_interval(secs => :retention)
        ON CONFLICT (workspace, message) DO UPDATE SET
            reported_at = excluded.reported_at, sender = excluded.sender, sending_until = excluded.sending_until
            WHERE state.reported_at <= excluded.reported_at
                AND (state.sending_until <= clock_timestamp() OR state.sender = excluded.sender)
        RETURNING 1
    )
    SELECT
        EXISTS (SELECT 1 FROM claimed) AS newest,
        (SELECT extract(epoch FROM sending_until - clock_timestamp()) FROM slack_message_states
            WHERE workspace = :workspace AND message = :message AND sender <> :sender
                AND sending_until > clock_timestamp() AND reported_at <= :reported_at) AS busy
    """
)
_RELEASE = sa.text(
    "UPDATE slack_message_states SET sending_until = clock_timestamp()"
    " WHERE workspace = :workspace AND message = :message AND sender = :sender"
    " AND sending_until > clock_timestamp()"
)

# Forget states reported before the horizon, a batch per transaction (short row locks, within the
# statement timeout). Any worker sweeps every workspace's rows, so a workspace gone quiet is swept too.
# The outer condition is checked again on a row a concurrent claim moved forward: that row stays.
_SWEEP = sa.text(
    """
    DELETE FROM slack_message_states
    WHERE (workspace, message) IN (
        SELECT workspace, message FROM slack_message_states
        WHERE reported_at < clock_timestamp() - make_interval(secs => :retention)
        LIMIT :batch
    )
    AND reported_at < clock_timestamp() - make_interval(secs => :retention)
    """
)

# A dead worker's announced finals lapsed long ago: one row per line it wrote on.
_SWEEP_FINALS = sa.text("DELETE FROM slack_budget_finals WHERE until < clock_timestamp() - interval '1 hour'")


@dataclass(frozen=True)
class Claim:
    """A message state's claim: ``newest``, or else how long an older state's send elsewhere may still take
    (``busy`` > 0: ask again after it; 0: a newer state was sent, this one never goes)."""

    newest: bool
    busy: float = 0.0


@dataclass(frozen=True)
class Slot:
    """The database's answer to one ask: granted or not, and the line's state as seconds from ``at``."""

    granted: bool
    theoretical: float  # until the line's theoretical arrival time (negative: in the past)
    paused: float  # until the line's pause ends (<= 0: not paused)
    at: datetime  # the database's clock when it answered: the time of the grant, if granted


def workspace_key(bot_token: str) -> str:
    """Names the workspace a bot token writes to. Slack's budgets are per app and workspace, and one bot
    token is one app's install in one workspace: its digest names the budget without a call to Slack
    (auth.test) and without keeping the token in the database."""
    return hashlib.sha256(bot_token.encode()).hexdigest()[:16]


STATEMENT_TIMEOUT_MS = 2_000
RETENTION = timedelta(days=8)  # SLACK_MESSAGE_STATE_RETENTION_DAYS' default with APPROVAL_EXPIRE_AFTER's
SWEEP_EVERY = 3600.0  # seconds between one process's sweeps of old message states
SWEEP_BATCH = 1_000  # rows deleted per transaction


class SharedBudget:
    """The budget state of every line of one workspace, in the ``slack_budget`` table. Its methods
    return None (take) or do nothing (pause) while the database does not answer."""

    def __init__(
        self,
        engine: Engine,
        workspace: str,
        *,
        answer_within: float = ANSWER_WITHIN,
        retry_after: float = RETRY_AFTER,
        retention: timedelta = RETENTION,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine, self.workspace = engine, workspace
        self._answer_within, self._retry_after, self._clock = answer_within, retry_after, clock
        self.retention = retention
        self._away_until: float | None = None  # set while the database is away: when to ask it again
        self._sweep_after: float | None = None  # when this process may sweep again; None: at the first claim
        self.sweeping: asyncio.Task[int] | None = None  # the last sweep (tests and shutdown may await it)
        # Threads of its own: in asyncio's default pool, an ask queues behind page extraction and
        # citation checks (bench.scale saw one time out at 1 s while 100 runs started).
        self._threads = ThreadPoolExecutor(THREADS, thread_name_prefix="slack-budget")
        self.worker = uuid.uuid4().hex  # names this process's announced finals (_ANNOUNCE)

    @classmethod
    def connect(cls, url: URL | str, workspace: str, **options: Any) -> SharedBudget:
        """A budget with its own small pool, a connection per thread, so asks never wait for the archive's.
        libpq's shortest connect timeout is 2 s; ``answer_within`` gives up sooner. A statement or a row lock
        that waits longer than STATEMENT_TIMEOUT_MS is cancelled by the server, so a stuck transaction
        elsewhere cannot hold a pool thread (and a Slack write) for ever."""
        url = sa.make_url(url)
        timeouts = f"-c statement_timeout={STATEMENT_TIMEOUT_MS} -c lock_timeout={STATEMENT_TIMEOUT_MS}"
        # The URL's own options (a search_path for the archive's schema) are kept: connect_args would replace them.
        given = url.query.get("options", "")
        libpq_options = " ".join([*(given if isinstance(given, tuple) else [given]), timeouts]).strip()
        connect_args = {"connect_timeout": 2, "options": libpq_options}
        engine = sa.create_engine(url, pool_size=THREADS, max_overflow=0, connect_args=connect_args)
        return cls(engine, workspace, **options)

    def dispose(self) -> None:
        self._threads.shutdown(wait=False)
        self.engine.dispose()

    async def take(
        self,
        method: str,
        scope: str,
        budget: Budget,
        *,
        burst: bool,
        final: bool = False,
        since: datetime | None = None,
        then: datetime | None = None,
    ) -> Slot | None:
        """Take the line's next slot if it is due now. A waited write (``burst``) may spend the budget's
        burst; an informing one only its share (Budget.informing_burst), and an earlier state waits while any
        worker holds a ``final`` one. A final state made final at ``since`` (the workflow's clock) waits for
        any other worker's older final; ``then``: when this worker's next final was made final, if it has one.
        None: the database did not answer, the caller decides alone."""
        final = final and not burst
        params = {
            "workspace": self.workspace,
            "method": method,
            "scope": scope,
            "interval": budget.interval,
            "span": ((budget.burst if burst else budget.informing_burst(final=final)) - 1) * budget.interval,
            "waited": burst,
            "final": final,
            "hold": FINAL_HOLD * budget.interval,
            "ask": uuid.uuid4().hex,
            "worker": self.worker,
            "since": since,
            "then": then,
            "behind": False,
        }
        row = await self._ask(self._take_final if final and since is not None else self._run, _TAKE, params)
        if row is None:
            return None
        return Slot(bool(row.granted), float(row.theoretical), float(row.paused), row.at)

    async def pause(self, method: str, scope: str, seconds: float) -> None:
        """No write on the line, by any worker, for ``seconds`` (Slack's Retry-After)."""
        params = {"workspace": self.workspace, "method": method, "scope": scope, "seconds": seconds}
        await self._ask(self._run, _PAUSE, params)

    async def newest(self, message: str, reported_at: datetime, sender: str) -> Claim | None:
        """Whether the state of ``message`` reported at ``reported_at`` is the newest any worker sent, and if
        so, claim it for ``sender`` (one send): a worker's refresh that waited while another worker sent a
        newer state is not sent. The claim holds the message's send lease until :meth:`release` (or
        SEND_LEASE); an older state's send still under way elsewhere makes it ``busy`` instead: ask again
        once it is answered. A state reported before the retention's horizon is not the newest. None: the
        database did not answer, the caller decides alone."""
        params = {"workspace": self.workspace, "message": message, "reported_at": reported_at, "sender": sender}
        retention = self.retention.total_seconds()
        row = await self._ask(self._run, _NEWEST, {**params, "retention": retention, "lease": SEND_LEASE})
        if row is not None and (self._sweep_after is None or self._clock() >= self._sweep_after):
            # Beside the writes, not in their way: the claim was answered, the sweep runs on its own.
            self._sweep_after = self._clock() + SWEEP_EVERY
            self.sweeping = asyncio.create_task(self.sweep())
        if row is None:
            return None
        return Claim(bool(row.newest), 0.0 if row.newest or row.busy is None else float(row.busy))

    async def release(self, message: str, sender: str) -> None:
        """``sender``'s send to ``message`` was answered: a newer state waiting for it may go."""
        await self._ask(self._run, _RELEASE, {"workspace": self.workspace, "message": message, "sender": sender})

    async def sweep(self) -> int:
        """Delete the message states reported before the retention's horizon; how many went. Never raises:
        what a failed sweep left is deleted by the next one."""
        try:
            return await asyncio.get_running_loop().run_in_executor(self._threads, self._sweep)
        except (sa.exc.SQLAlchemyError, OSError, RuntimeError) as error:  # RuntimeError: disposed meanwhile
            log.warning("slack_budget.sweep_failed", reason=_first_line(error))
            return 0

    def _sweep(self) -> int:
        deleted, params = 0, {"retention": self.retention.total_seconds(), "batch": SWEEP_BATCH}
        with self.engine.begin() as connection:
            connection.execute(_SWEEP_FINALS)
        while True:
            with self.engine.begin() as connection:
                batch = connection.execute(_SWEEP, params).rowcount
            deleted += batch
            if batch < SWEEP_BATCH:
                return deleted

    async def _ask(
        self,
        run: Callable[[sa.TextClause, dict[str, Any]], sa.Row[Any] | None],
        statement: sa.TextClause,
        params: dict[str, Any],
    ) -> sa.Row[Any] | None:
        if self._away_until is not None and self._clock() < self._away_until:
            return None
        try:
            # The driver blocks: in a thread. A thread that overruns is left to finish on its own; the
            # most it can do is spend one slot of the shared budget that nobody uses.
            asking = asyncio.get_running_loop().run_in_executor(self._threads, run, statement, params)
            row = await asyncio.wait_for(asking, self._answer_within)
        except (sa.exc.SQLAlchemyError, OSError, TimeoutError) as error:
            if self._away_until is None:  # once per outage, not once per write
                log.warning("slack_budget.unreachable", reason=_first_line(error), retry_after=self._retry_after)
            self._away_until = self._clock() + self._retry_after
            return None
        if self._away_until is not None:
            log.info("slack_budget.back")
            self._away_until = None
        return row

    def _run(self, statement: sa.TextClause, params: dict[str, Any]) -> sa.Row[Any] | None:
        with self.engine.begin() as connection:
            result = connection.execute(statement, params)
            return result.first() if result.returns_rows else None

    def _take_final(self, statement: sa.TextClause, params: dict[str, Any]) -> sa.Row[Any] | None:
        """Announce this worker's oldest final, then ask for the slot: one transaction."""
        with self.engine.begin() as connection:
            behind = connection.execute(_ANNOUNCE, params).scalar_one()
            row = connection.execute(statement, {**params, "behind": bool(behind)}).first()
            if row is not None and row.granted:
                connection.execute(_WITHDRAW if params["then"] is None else _HAND_OVER, params)
            return row


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0]
