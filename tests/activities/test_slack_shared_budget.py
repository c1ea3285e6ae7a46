"""Slack's budget shared by several workers through PostgreSQL (activities/slack/shared_budget.py): two
``SlackWrites`` (two workers) spend one budget, a 429 met by one pauses the other, and a database that is
away costs no write.

The budget checks read the grant times the database recorded (its own clock), so they assert what was
granted, not how long the test took."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from slack_sdk.errors import SlackApiError
from slack_sdk.web.slack_response import SlackResponse
from structlog.testing import capture_logs

from activities.archive.store import ArchiveStore
from activities.slack.limits import Budget
from activities.slack.shared_budget import SharedBudget, Slot, workspace_key
from activities.slack.writes import SlackWrites, Superseded
from core.settings import Settings
from researchbot.wiring import build_shared_budget

BUDGET = Budget(interval=0.05, burst=3)
BUDGETS = {"chat.update": BUDGET, "chat.postMessage": BUDGET}


class RecordingBudget(SharedBudget):
    """A worker's view of the shared budget that keeps every answer it got."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.answers: list[Slot] = []

    async def take(self, *args: Any, **kwargs: Any) -> Slot | None:
        slot = await super().take(*args, **kwargs)
        if slot is not None:
            self.answers.append(slot)
        return slot

    @property
    def grants(self) -> list[datetime]:
        return [slot.at for slot in self.answers if slot.granted]


@pytest.fixture
def database_url(postgres_url: str) -> str:
    return postgres_url  # the budget is shared on PostgreSQL only: conftest's store, migrated, on it


@pytest.fixture
def workers(store: ArchiveStore) -> Iterator[list[RecordingBudget]]:
    """Two workers' connections to one workspace's budget, each with its own pool, as two processes have."""
    budgets = [RecordingBudget(sa.create_engine(store.url), "T1") for _ in range(2)]
    yield budgets
    for budget in budgets:
        budget.dispose()


def sending(sent: list[str], label: str) -> Callable[[], Awaitable[str]]:
    async def send() -> str:
        sent.append(label)
        return label

    return send


def rate_limited(retry_after: str) -> SlackApiError:
    response = SlackResponse(
        client=None,
        http_verb="POST",
        api_url="https://slack.com/api/chat.update",
        req_args={},
        data={"ok": False, "error": "ratelimited"},
        headers={"Retry-After": retry_after},
        status_code=429,
    )
    return SlackApiError("ratelimited", response)


def within_budget(grants: list[datetime], budget: Budget) -> bool:
    """Whatever the order the grants were made in, a cell-rate budget allows at most
    ``burst + span / interval`` of them in any span of time: check every span between two grants."""
    times = sorted(moment.timestamp() for moment in grants)
    for i, first in enumerate(times):
        for j in range(i, len(times)):
            if j - i + 1 > (times[j] - first) / budget.interval + budget.burst + 1e-6:
                return False
    return True


async def test_two_workers_spend_one_budget_together(workers: list[RecordingBudget]) -> None:
    sent: list[str] = []
    writers = [SlackWrites(BUDGETS, shared=shared) for shared in workers]
    await asyncio.gather(
        *(
            writes.write("chat.update", "C1", sending(sent, f"{w}-{n}"), waited=n % 2 == 0, message=(w, n))
            for n in range(12)
            for w, writes in enumerate(writers)
        )
    )
    assert len(sent) == len(set(sent)) == 24  # every write went, once
    grants = [moment for shared in workers for moment in shared.grants]
    assert len(grants) == 24 and all(shared.grants for shared in workers)
    assert within_budget(grants, BUDGET)
    assert max(grants).timestamp() - min(grants).timestamp() >= (24 - BUDGET.burst) * BUDGET.interval
    # Each worker's own budget alone would grant its burst at once: twice the burst, which the check refuses.
    assert not within_budget([grants[0]] * (2 * BUDGET.burst), BUDGET)


async def test_informing_writes_of_one_worker_leave_the_burst_to_the_other_workers_click(
    workers: list[RecordingBudget],
) -> None:
    first, second = (SlackWrites(BUDGETS, shared=shared) for shared in workers)
    sent: list[str] = []
    informing = [
        asyncio.create_task(first.write("chat.update", "C1", sending(sent, f"progress {n}"), waited=False, message=n))
        for n in range(6)
    ]
    await asyncio.sleep(BUDGET.interval * 2)  # the progress refreshes flow at the average rate
    await second.write("chat.update", "C1", sending(sent, "decision"), waited=True)
    assert workers[1].answers[0].granted  # at once, from the burst the informing writes left over
    await asyncio.gather(*informing)
    assert len(sent) == 7


async def test_runs_last_progress_on_one_worker_goes_before_earlier_states_on_the_other(
    workers: list[RecordingBudget],
) -> None:
    first, second = (SlackWrites(BUDGETS, shared=shared) for shared in workers)
    sent: list[str] = []
    earlier = [
        asyncio.create_task(first.write("chat.update", "C1", sending(sent, f"earlier {n}"), waited=False, message=n))
        for n in range(16)
    ]
    while len(sent) < 2:  # the first worker's earlier states are flowing at the average rate
        await asyncio.sleep(BUDGET.interval / 2)
    before = len(sent)
    finals = [
        second.write("chat.update", "C1", sending(sent, f"final {n}"), waited=False, message=("run", n), final=True)
        for n in range(6)
    ]
    await asyncio.gather(*finals)
    # Taking turns, the finals would end 6 earlier states later; held, at most the slots already
    # promised before the first final's ask reached the database go to earlier states.
    assert sent.index("final 5") <= before + 6 + 2, sent
    await asyncio.gather(*earlier)
    assert len(sent) == 22


async def test_finals_go_in_the_order_their_runs_got_there_across_workers(workers: list[RecordingBudget]) -> None:
    """Each worker holding a backlog of finals: the one whose runs got there first is not held to half of
    the slots while the other sends finals its runs reached later."""
    first, second = (SlackWrites(BUDGETS, shared=shared) for shared in workers)
    sent: list[str] = []
    start = datetime.now(UTC)

    def final(writes: SlackWrites, label: str, reported_at: datetime) -> asyncio.Task[str]:
        send = sending(sent, label)
        return asyncio.create_task(
            writes.write("chat.update", "C1", send, waited=False, message=label, final=True, reported_at=reported_at)
        )

    older = [final(first, f"older {n}", start + timedelta(seconds=n)) for n in range(8)]
    while not sent:  # the older runs' finals are flowing
        await asyncio.sleep(BUDGET.interval / 4)
    younger = [final(second, f"younger {n}", start + timedelta(seconds=60 + n)) for n in range(8)]
    await asyncio.gather(*older, *younger)
    assert len(sent) == 16
    # Taking turns, the older runs' last final would be sent 14th; in order, 8th, give or take the
    # asks that crossed in the database when the second worker began.
    assert sent.index("older 7") <= 8 + 1, " ".join(sent)


async def test_a_429_met_by_one_worker_pauses_the_other(workers: list[RecordingBudget], store: ArchiveStore) -> None:
    first, second = (SlackWrites(BUDGETS, shared=shared) for shared in workers)
    sent: list[str] = []
    tries = 0

    async def limited_once() -> str:
        nonlocal tries
        tries += 1
        if tries == 1:
            raise rate_limited("0.5")
        sent.append("first")
        return "first"

    met = asyncio.create_task(first.write("chat.update", "C1", limited_once, waited=True))
    for _ in range(500):
        with store.engine.connect() as connection:
            paused_until = connection.execute(sa.text("SELECT max(paused_until) FROM slack_budget")).scalar()
            now = connection.execute(sa.text("SELECT clock_timestamp()")).scalar()
        if paused_until is not None and paused_until > now:
            break
        await asyncio.sleep(0.01)
    else:
        raise AssertionError("the 429 never paused the shared line")

    await second.write("chat.update", "C1", sending(sent, "second"), waited=True)
    await met
    answers = workers[1].answers
    assert not answers[0].granted and answers[0].paused > 0  # the other worker saw the pause
    assert workers[1].grants[0] >= paused_until  # and wrote only after it
    assert first.rate_limited == 1 and second.rate_limited == 0
    assert sorted(sent) == ["first", "second"]


async def test_a_database_that_is_away_costs_no_write_and_is_logged_once() -> None:
    away = SharedBudget.connect("postgresql+psycopg://postgres@127.0.0.1:1/test", "T1", retry_after=60)
    writes = SlackWrites(BUDGETS, shared=away)
    sent: list[str] = []
    try:
        with capture_logs() as logs:
            for n in range(3):
                await writes.write("chat.update", "C1", sending(sent, f"update {n}"), waited=True)
    finally:
        away.dispose()
    assert sent == ["update 0", "update 1", "update 2"]
    assert [entry["event"] for entry in logs].count("slack_budget.unreachable") == 1


def test_only_postgres_shares_the_budget(tmp_path, postgres_url: str) -> None:
    settings = Settings(_env_file=None, slack_bot_token="xoxb-1")  # type: ignore[call-arg]
    sqlite, postgres = ArchiveStore(f"sqlite:///{tmp_path}/archive.db"), ArchiveStore(postgres_url)
    assert build_shared_budget(settings, sqlite) is None
    shared = build_shared_budget(settings, postgres)
    assert shared is not None and shared.workspace == workspace_key("xoxb-1") != "xoxb-1"
    for disposable in (shared, sqlite, postgres):
        disposable.dispose()


async def test_an_older_state_waiting_on_one_worker_is_not_sent_over_a_newer_one_another_sent(
    workers: list[RecordingBudget],
) -> None:
    """Two workers refresh the same progress message: the one whose report the workflow made earlier, sent
    last, would leave the message in an old state for good. It is superseded instead."""
    first, second = (SlackWrites(BUDGETS, shared=budget) for budget in workers)
    message, sent = ("C1", f"{uuid.uuid4().int % 10**6}.000100"), []
    earlier = datetime.now(UTC)  # recent: a state reported before the retention's horizon is never sent
    later = earlier + timedelta(seconds=5)

    await second.write("chat.update", "C1", sending(sent, "newer"), waited=False, message=message, reported_at=later)
    with pytest.raises(Superseded):
        await first.write(
            "chat.update", "C1", sending(sent, "older"), waited=False, message=message, reported_at=earlier
        )
    # The same report again (a 429 sent it back) still goes, and so does any later one.
    await first.write("chat.update", "C1", sending(sent, "again"), waited=False, message=message, reported_at=later)
    assert sent == ["newer", "again"]


async def test_a_newer_state_waits_for_an_older_ones_send_on_another_worker(workers: list[RecordingBudget]) -> None:
    """The older state claimed the message first and is still being sent when another worker claims the
    newer one: sent at once, the newer one could land first and be overwritten for good."""
    first, second = (SlackWrites(BUDGETS, shared=budget) for budget in workers)
    message, sent = ("C1", f"{uuid.uuid4().int % 10**6}.000200"), []
    earlier = datetime.now(UTC)
    later = earlier + timedelta(seconds=5)
    under_way, answered = asyncio.Event(), asyncio.Event()

    async def slow_send() -> str:
        under_way.set()
        await answered.wait()  # Slack takes the older state, its answer not back yet
        sent.append("older")
        return "older"

    older = asyncio.create_task(
        first.write("chat.update", "C1", slow_send, waited=False, message=message, reported_at=earlier)
    )
    await under_way.wait()
    newer = asyncio.create_task(
        second.write("chat.update", "C1", sending(sent, "newer"), waited=False, message=message, reported_at=later)
    )
    await asyncio.sleep(0.5)
    assert sent == []  # the newer state waits for the older send
    answered.set()
    await asyncio.gather(older, newer)
    assert sent == ["older", "newer"]


def test_the_shared_budgets_statements_and_locks_time_out_on_the_server(postgres_url: str) -> None:
    shared = SharedBudget.connect(postgres_url, "T1")
    try:
        with shared.engine.connect() as connection:
            timeouts = [
                connection.exec_driver_sql(f"SHOW {name}").scalar() for name in ("statement_timeout", "lock_timeout")
            ]
    finally:
        shared.dispose()
    assert timeouts == ["2s", "2s"]


def test_the_shared_budget_keeps_the_urls_own_options(postgres_url: str) -> None:
    # An archive in its own schema (options=-csearch_path=...): the budget's rows are looked for there too.
    url = sa.make_url(postgres_url).update_query_dict({"options": "-csearch_path=budget_schema_test"})
    shared = SharedBudget.connect(url, "T1")
    try:
        with shared.engine.connect() as connection:
            shown = [connection.exec_driver_sql(f"SHOW {name}").scalar() for name in ("search_path", "lock_timeout")]
    finally:
        shared.dispose()
    assert shown == ["budget_schema_test", "2s"]
