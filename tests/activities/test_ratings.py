"""Ratings of reports (👍 / 👎) in the archive, on a real SQLite file and the real PostgreSQL (the ``store``
fixture runs each test on both): one rating per run and person, their latest click, and the activity
counts only clicks that became a rating."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from alembic import command
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.archive.ratings import RatingActivities, RatingStore
from activities.archive.store import ArchiveStore, alembic_config, answer_feedback
from workflows.models import Rating, ReportRating

T0 = datetime(2026, 12, 4, 9, 30, tzinfo=UTC)


def click(feedback_id: str, rating: Rating = Rating.POSITIVE, by: str = "U1", minutes: int = 0) -> ReportRating:
    return ReportRating(
        feedback_id=feedback_id,
        workflow_id="research-1",
        rating=rating,
        given_by=by,
        given_at=T0 + timedelta(minutes=minutes),
    )


def rows(store: ArchiveStore) -> list[tuple[str, str, str]]:
    """Every row kept: (person, rating, click id)."""
    query = sa.select(answer_feedback.c.given_by, answer_feedback.c.rating, answer_feedback.c.feedback_id)
    with store.engine.connect() as connection:
        return sorted(tuple(row) for row in connection.execute(query))


def test_each_click_is_kept_once_and_read_back_in_order(store: ArchiveStore) -> None:
    ratings = RatingStore(store)
    assert ratings.save(click("b", Rating.NEGATIVE, "U2", minutes=1))
    assert ratings.save(click("a"))
    assert not ratings.save(click("a"))  # the same click again
    assert ratings.of_run("research-1") == [click("a"), click("b", Rating.NEGATIVE, "U2", minutes=1)]
    assert ratings.of_run("research-2") == []


async def test_the_activity_writes_a_retried_click_once(store: ArchiveStore) -> None:
    activities = RatingActivities(RatingStore(store))
    env = ActivityEnvironment()
    assert await env.run(activities.record_rating, click("a")) is True
    assert await env.run(activities.record_rating, click("a")) is False
    with store.engine.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(answer_feedback)).scalar() == 1


async def test_a_rating_the_database_refuses_fails_at_once(store: ArchiveStore) -> None:
    if store.engine.dialect.name != "postgresql":
        pytest.skip("SQLite keeps NUL characters")
    activities = RatingActivities(RatingStore(store))
    poisoned = click("a").model_copy(update={"given_by": "U\x001"})
    with pytest.raises(ApplicationError) as refused:
        await ActivityEnvironment().run(activities.record_rating, poisoned)
    assert refused.value.non_retryable


def test_a_persons_later_click_replaces_their_earlier_one_and_only_theirs(store: ArchiveStore) -> None:
    ratings = RatingStore(store)
    assert ratings.save(click("a", Rating.POSITIVE))
    assert ratings.save(click("u2", Rating.POSITIVE, "U2", minutes=1))  # another person's rating
    assert ratings.save(click("b", Rating.NEGATIVE, minutes=2))  # U1 changed their mind
    assert not ratings.save(click("a", Rating.POSITIVE))  # the first click, delivered again: it stays replaced
    assert rows(store) == [("U1", "negative", "b"), ("U2", "positive", "u2")]
    assert ratings.of_run("research-1") == [
        click("u2", Rating.POSITIVE, "U2", minutes=1),
        click("b", Rating.NEGATIVE, minutes=2),
    ]


def test_an_earlier_click_arriving_late_does_not_replace_a_later_one(store: ArchiveStore) -> None:
    ratings = RatingStore(store)
    assert ratings.save(click("later", Rating.NEGATIVE, minutes=5))
    assert not ratings.save(click("earlier", Rating.POSITIVE, minutes=1))
    assert rows(store) == [("U1", "negative", "later")]


def test_concurrent_clicks_of_one_person_leave_one_row_the_latest(store: ArchiveStore) -> None:
    ratings = RatingStore(store)
    clicks = [click(f"c{n}", Rating.POSITIVE if n % 2 else Rating.NEGATIVE, minutes=n) for n in range(8)]
    start, errors = threading.Barrier(len(clicks)), []

    def save(one: ReportRating) -> None:
        start.wait()
        try:
            ratings.save(one)
        except Exception as error:  # reported below, with its click
            errors.append((one.feedback_id, error))

    threads = [threading.Thread(target=save, args=(one,)) for one in clicks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert rows(store) == [("U1", "positive", "c7")]


async def test_the_activity_counts_a_changed_vote_once(store: ArchiveStore) -> None:
    activities = RatingActivities(RatingStore(store))
    env = ActivityEnvironment()
    assert await env.run(activities.record_rating, click("a", Rating.POSITIVE)) is True
    assert await env.run(activities.record_rating, click("b", Rating.NEGATIVE, minutes=1)) is True
    assert await env.run(activities.record_rating, click("b", Rating.NEGATIVE, minutes=1)) is False  # a retry
    assert rows(store) == [("U1", "negative", "b")]


def test_the_migration_keeps_each_persons_latest_click(database_url: str) -> None:
    """An archive from before 0008 kept every click: upgrading leaves each person's latest one."""
    store = ArchiveStore(database_url)
    with store.engine.begin() as connection:
        command.upgrade(alembic_config(connection), "0007")
        stored = datetime.now(UTC)
        connection.execute(
            sa.insert(answer_feedback),
            [
                {**one.model_dump(mode="python"), "stored_at": stored}
                for one in (
                    click("u1-first", Rating.POSITIVE, "U1"),
                    click("u1-last", Rating.NEGATIVE, "U1", minutes=2),
                    click("u1-middle", Rating.POSITIVE, "U1", minutes=1),
                    click("u2-tie-a", Rating.NEGATIVE, "U2", minutes=3),
                    click("u2-tie-b", Rating.POSITIVE, "U2", minutes=3),  # same time: the larger id wins
                    click("u3-only", Rating.POSITIVE, "U3"),
                )
            ],
        )
    store.migrate()
    assert rows(store) == [("U1", "negative", "u1-last"), ("U2", "positive", "u2-tie-b"), ("U3", "positive", "u3-only")]
    assert RatingStore(store).save(click("u3-again", Rating.NEGATIVE, "U3", minutes=9))
    assert rows(store)[-1] == ("U3", "negative", "u3-again")
    store.dispose()
