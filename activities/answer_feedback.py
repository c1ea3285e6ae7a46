"""The feedback buttons' clicks, kept in the archive and counted for Prometheus.

One row per click (its id comes from the click, so a retried activity or a click Slack delivers twice
writes one row), and a counter by rating, ``researchbot_answer_feedback``, exported with the worker's
Temporal metrics (METRICS_BIND_ADDRESS). The counter counts rows written, so a retry never counts twice.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
import structlog
from sqlalchemy.dialects import postgresql, sqlite
from temporalio import activity

from activities.store import ArchiveStore, answer_feedback, archive_write
from workflows import RECORD_FEEDBACK
from workflows.models import AnswerFeedback, Rating

__all__ = ["FEEDBACK_COUNTER", "FeedbackActivities", "FeedbackStore"]

log = structlog.get_logger(__name__)

FEEDBACK_COUNTER = "researchbot_answer_feedback"


class FeedbackStore:
    def __init__(self, archive: ArchiveStore) -> None:
        self._engine = archive.engine

    def save(self, feedback: AnswerFeedback) -> bool:
        """Keep one click; True if it was new."""
        insert = postgresql.insert if self._engine.dialect.name == "postgresql" else sqlite.insert
        statement = (
            insert(answer_feedback)
            .values(**feedback.model_dump(mode="python"), stored_at=datetime.now(UTC))
            .on_conflict_do_nothing(index_elements=["feedback_id"])
            .returning(answer_feedback.c.feedback_id)
        )
        with self._engine.begin() as connection:
            return connection.execute(statement).first() is not None

    def of_run(self, workflow_id: str) -> list[AnswerFeedback]:
        """Every click on one run's report, oldest first."""
        query = (
            sa.select(answer_feedback)
            .where(answer_feedback.c.workflow_id == workflow_id)
            .order_by(answer_feedback.c.given_at, answer_feedback.c.feedback_id)
        )
        with self._engine.connect() as connection:
            rows = connection.execute(query).mappings().all()
        return [
            AnswerFeedback(
                feedback_id=row["feedback_id"],
                workflow_id=row["workflow_id"],
                rating=Rating(row["rating"]),
                given_by=row["given_by"],
                given_at=row["given_at"] if row["given_at"].tzinfo else row["given_at"].replace(tzinfo=UTC),
            )
            for row in rows
        ]


class FeedbackActivities:
    def __init__(self, store: FeedbackStore) -> None:
        self._store = store

    @activity.defn(name=RECORD_FEEDBACK)
    async def record_feedback(self, feedback: AnswerFeedback) -> bool:
        inserted = await archive_write("this feedback", feedback.workflow_id, self._store.save, feedback)
        if inserted:
            counter = activity.metric_meter().create_counter(
                FEEDBACK_COUNTER, "Clicks on the feedback buttons of published reports, by rating"
            )
            counter.add(1, {"rating": feedback.rating.value})
        log.info("feedback.recorded", workflow_id=feedback.workflow_id, rating=feedback.rating.value, new=inserted)
        return inserted
