"""The 👍 / 👎 buttons' clicks, kept in the archive as ratings and counted for Prometheus.

One rating per run and person: their latest click (by ``given_at``) replaces any earlier one, so the table
grows with the people who rate, not with their clicks. A click's id comes from the click, so a retried
activity or a click Slack delivers twice changes nothing, nor does an older click arriving after a newer one.

The counter ``researchbot_answer_feedback`` (by rating, exported with the worker's Temporal metrics on
METRICS_BIND_ADDRESS) counts the clicks that became a person's rating. A changed vote adds one under the
new rating and leaves the old rating's count as it was (a counter never goes down): the counter measures
clicking; the ratings that stand are the archive's rows. A retry never counts twice.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
import structlog
from sqlalchemy.dialects import postgresql, sqlite
from temporalio import activity

from activities.archive.store import ArchiveStore, answer_feedback, archive_write
from workflows.calls import RatingCalls
from workflows.declaring import implements
from workflows.models import Rating, ReportRating

__all__ = ["RATING_COUNTER", "RatingActivities", "RatingStore"]

log = structlog.get_logger(__name__)

RATING_COUNTER = "researchbot_answer_feedback"  # its first name: dashboards and alerts use it


class RatingStore:
    def __init__(self, archive: ArchiveStore) -> None:
        self._engine = archive.engine

    def save(self, rating: ReportRating) -> bool:
        """Make this click the person's rating of the run; True if it is, False if the same click or a later
        one of theirs is kept already. One statement, so concurrent clicks of one person leave one row."""
        insert = postgresql.insert if self._engine.dialect.name == "postgresql" else sqlite.insert
        # In UTC: SQLite keeps a datetime as text without its offset, and "latest" compares them.
        row = {**rating.model_dump(mode="python"), "given_at": rating.given_at.astimezone(UTC)}
        statement = insert(answer_feedback).values(**row, stored_at=datetime.now(UTC))
        kept, click = answer_feedback.c, statement.excluded
        statement = statement.on_conflict_do_update(
            index_elements=[kept.workflow_id, kept.given_by],
            set_={name: click[name] for name in ("feedback_id", "rating", "given_at", "stored_at")},
            # The latest click wins, whatever order they arrive in; the id breaks a tie in given_at.
            where=sa.tuple_(kept.given_at, kept.feedback_id) < sa.tuple_(click.given_at, click.feedback_id),
        ).returning(kept.feedback_id)
        with self._engine.begin() as connection:
            return connection.execute(statement).first() is not None

    def of_run(self, workflow_id: str) -> list[ReportRating]:
        """Each person's rating of one run's report, the oldest click first."""
        query = (
            sa.select(answer_feedback)
            .where(answer_feedback.c.workflow_id == workflow_id)
            .order_by(answer_feedback.c.given_at, answer_feedback.c.feedback_id)
        )
        with self._engine.connect() as connection:
            rows = connection.execute(query).mappings().all()
        return [
            ReportRating(
                feedback_id=row["feedback_id"],
                workflow_id=row["workflow_id"],
                rating=Rating(row["rating"]),
                given_by=row["given_by"],
                given_at=row["given_at"] if row["given_at"].tzinfo else row["given_at"].replace(tzinfo=UTC),
            )
            for row in rows
        ]


class RatingActivities:
    def __init__(self, store: RatingStore) -> None:
        self._store = store

    @implements(RatingCalls.record_rating)
    async def record_rating(self, rating: ReportRating) -> bool:
        kept = await archive_write("this rating", rating.workflow_id, self._store.save, rating)
        if kept:
            counter = activity.metric_meter().create_counter(
                RATING_COUNTER, "Clicks on the 👍 / 👎 buttons of published reports that became a person's rating"
            )
            counter.add(1, {"rating": rating.rating.value})
        log.info("rating.recorded", workflow_id=rating.workflow_id, rating=rating.rating.value, kept=kept)
        return kept
