"""Create slack_budget_finals: each worker's oldest final progress state per line, so the workers send
finals in the order their runs got there (activities/slack/shared_budget.py).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "slack_budget_finals",
        sa.Column("workspace", sa.Text, primary_key=True),
        sa.Column("method", sa.Text, primary_key=True),
        sa.Column("scope", sa.Text, primary_key=True),
        sa.Column("worker", sa.Text, primary_key=True),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_slack_budget_finals_until", "slack_budget_finals", ["until"])


def downgrade() -> None:
    op.drop_index("ix_slack_budget_finals_until", table_name="slack_budget_finals")
    op.drop_table("slack_budget_finals")
