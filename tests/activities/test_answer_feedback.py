"""Feedback on reports in the archive, on a real SQLite file and the real PostgreSQL (the ``store``
fixture runs each test on both): one row per click, and the activity counts only rows it wrote."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.answer_feedback import FeedbackActivities, FeedbackStore
from activities.store import ArchiveStore, answer_feedback
from workflows.models import AnswerFeedback, Rating

T0 = datetime(2026, 12, 4, 9, 30, tzinfo=UTC)


def click(feedback_id: str, rating: Rating = Rating.POSITIVE, by: str = "U1", minutes: int = 0) -> AnswerFeedback:
    return AnswerFeedback(
        feedback_id=feedback_id,
        workflow_id="research-1",
        rating=rating,
        given_by=by,
        given_at=T0 + timedelta(minutes=minutes),
    )


def test_each_click_is_kept_once_and_read_back_in_order(store: ArchiveStore) -> None:
    feedback = FeedbackStore(store)
    assert feedback.save(click("b", Rating.NEGATIVE, "U2", minutes=1))
    assert feedback.save(click("a"))
    assert not feedback.save(click("a"))  # the same click again
    assert feedback.of_run("research-1") == [click("a"), click("b", Rating.NEGATIVE, "U2", minutes=1)]
    assert feedback.of_run("research-2") == []


async def test_the_activity_writes_a_retried_click_once(store: ArchiveStore) -> None:
    activities = FeedbackActivities(FeedbackStore(store))
    env = ActivityEnvironment()
    assert await env.run(activities.record_feedback, click("a")) is True
    assert await env.run(activities.record_feedback, click("a")) is False
    with store.engine.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(answer_feedback)).scalar() == 1


async def test_feedback_the_database_refuses_fails_at_once(store: ArchiveStore) -> None:
    if store.engine.dialect.name != "postgresql":
        pytest.skip("SQLite keeps NUL characters")
    activities = FeedbackActivities(FeedbackStore(store))
    poisoned = click("a").model_copy(update={"given_by": "U\x001"})
    with pytest.raises(ApplicationError) as refused:
        await ActivityEnvironment().run(activities.record_feedback, poisoned)
    assert refused.value.non_retryable
