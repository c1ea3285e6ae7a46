"""Create answer_feedback: every 👍 and 👎 given to a published report.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "answer_feedback",
        sa.Column("feedback_id", sa.String(64), primary_key=True),
        sa.Column("workflow_id", sa.Text, nullable=False),
        sa.Column("rating", sa.String(16), nullable=False),
        sa.Column("given_by", sa.Text, nullable=False),
        sa.Column("given_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_answer_feedback_workflow_id", "answer_feedback", ["workflow_id"])


def downgrade() -> None:
    op.drop_index("ix_answer_feedback_workflow_id", table_name="answer_feedback")
    op.drop_table("answer_feedback")
