"""Create research_runs: one row per finished research run.

Revision ID: 0001
Revises:
Create Date: 2025-11-26
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "research_runs",
        sa.Column("workflow_id", sa.Text, primary_key=True),
        sa.Column("question", sa.Text, nullable=False),
        sa.Column("requested_by", sa.Text, nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("answer", sa.Text, nullable=False),
        sa.Column("sources", JSON, nullable=False),
        sa.Column("decisions", JSON, nullable=False),
        sa.Column("feedback", sa.Text, nullable=True),
        sa.Column("usage", JSON, nullable=False),
        sa.Column("steps_taken", sa.Integer, nullable=False),
        sa.Column("revision_rounds", sa.Integer, nullable=False),
        sa.Column("slack_channel_id", sa.Text, nullable=True),
        sa.Column("slack", JSON, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("started_at", TIME, nullable=False),
        sa.Column("finished_at", TIME, nullable=False),
        sa.Column("stored_at", TIME, nullable=False),
    )
    op.create_index("ix_research_runs_finished_at", "research_runs", ["finished_at"])
    op.create_index(
        "ix_research_runs_requested_by_finished_at",
        "research_runs",
        ["requested_by", "finished_at"],
    )


def downgrade() -> None:
    op.drop_table("research_runs")
