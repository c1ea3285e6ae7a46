"""The retention of ``slack_message_states`` (activities/slack/shared_budget.py), on the real PostgreSQL: states
reported before the horizon are deleted after a claim, at most once an hour per process, and such a state
is never sent, so a deleted row cannot let an old state overwrite a newer one."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from activities.archive.store import ArchiveStore, slack_message_states
from activities.slack.shared_budget import SWEEP_BATCH, SWEEP_EVERY, Claim, SharedBudget
from activities.slack.writes import SlackWrites, Superseded
from core.settings import Settings
from researchbot.wiring import build_shared_budget
from tests.activities.test_slack_shared_budget import BUDGETS, sending

RETENTION = timedelta(days=8)


@pytest.fixture
def database_url(postgres_url: str) -> str:
    return postgres_url  # message states are shared on PostgreSQL only


class Clock:
    """This process's monotonic clock, moved by the test."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def budget(store: ArchiveStore, clock: Clock) -> Iterator[SharedBudget]:
    shared = SharedBudget(sa.create_engine(store.url), "T1", retention=RETENTION, clock=clock)
    yield shared
    shared.dispose()


def keep(store: ArchiveStore, *states: tuple[str, str, datetime]) -> None:
    rows = [{"workspace": w, "message": m, "reported_at": at} for w, m, at in states]
    with store.engine.begin() as connection:
        connection.execute(sa.insert(slack_message_states), rows)


def kept(store: ArchiveStore) -> list[tuple[str, str]]:
    query = sa.select(slack_message_states.c.workspace, slack_message_states.c.message)
    with store.engine.connect() as connection:
        return sorted(tuple(row) for row in connection.execute(query))


async def test_states_past_the_retention_are_deleted_and_recent_ones_kept(
    store: ArchiveStore, budget: SharedBudget
) -> None:
    now = datetime.now(UTC)
    keep(
        store,
        ("T1", "C1:old", now - RETENTION - timedelta(hours=1)),
        ("T2", "C1:old", now - RETENTION - timedelta(hours=1)),  # another workspace's, gone quiet
        ("T1", "C1:recent", now - RETENTION + timedelta(hours=1)),
    )
    assert await budget.newest("C1:new", now, "sender") == Claim(newest=True)
    assert budget.sweeping is not None and await budget.sweeping == 2
    assert kept(store) == [("T1", "C1:new"), ("T1", "C1:recent")]


async def test_a_process_sweeps_at_most_once_an_hour(store: ArchiveStore, budget: SharedBudget, clock: Clock) -> None:
    now, old = datetime.now(UTC), datetime.now(UTC) - RETENTION - timedelta(hours=1)
    assert await budget.newest("C1:1", now, "sender") == Claim(newest=True)
    first = budget.sweeping
    assert first is not None and await first == 0
    keep(store, ("T1", "C1:old", old))

    clock.now += SWEEP_EVERY - 1
    assert await budget.newest("C1:2", now, "sender") == Claim(newest=True)
    assert budget.sweeping is first  # no second sweep within the hour
    assert ("T1", "C1:old") in kept(store)

    clock.now += 1
    assert await budget.newest("C1:3", now, "sender") == Claim(newest=True)
    assert budget.sweeping is not first and await budget.sweeping == 1
    assert ("T1", "C1:old") not in kept(store)


async def test_a_sweep_deletes_more_than_one_batch(store: ArchiveStore, budget: SharedBudget) -> None:
    with store.engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO slack_message_states (workspace, message, reported_at) "
                "SELECT 'T1', 'C1:' || n, now() - make_interval(days => 9) FROM generate_series(1, :count) AS n"
            ),
            {"count": SWEEP_BATCH * 2 + 5},
        )
    assert await budget.sweep() == SWEEP_BATCH * 2 + 5
    assert kept(store) == []


async def test_a_state_reported_before_the_horizon_is_never_sent(store: ArchiveStore, budget: SharedBudget) -> None:
    """Its message's newer state may have been deleted with the retention: sending it could undo that one."""
    stale = datetime.now(UTC) - RETENTION - timedelta(minutes=1)
    assert await budget.newest("C1:100.1", stale, "sender") == Claim(newest=False)
    writes, sent = SlackWrites(BUDGETS, shared=budget), []
    with pytest.raises(Superseded):
        await writes.write(
            "chat.update", "C1", sending(sent, "stale"), waited=False, message=("C1", "100.1"), reported_at=stale
        )
    assert sent == [] and kept(store) == []


def test_the_retention_outlasts_a_status_update_retried_until_the_run_expires(store: ArchiveStore) -> None:
    """Unset, it is APPROVAL_EXPIRE_AFTER plus a day: an essential report is retried until the run expires."""
    settings = [
        Settings(_env_file=None, slack_bot_token="xoxb-1", **options)  # type: ignore[arg-type]
        for options in ({}, {"approval_expire_after": "14d"}, {"slack_message_state_retention_days": 3})
    ]
    budgets = [build_shared_budget(one, store) for one in settings]
    assert [budget.retention if budget else None for budget in budgets] == [
        timedelta(days=8),
        timedelta(days=15),
        timedelta(days=3),
    ]
    for budget in budgets:
        if budget is not None:
            budget.dispose()
