"""Create slack_budget: Slack's rate budget of each line, shared by every worker on a PostgreSQL database.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "slack_budget",
        sa.Column("workspace", sa.Text, primary_key=True),
        sa.Column("method", sa.Text, primary_key=True),
        sa.Column("scope", sa.Text, primary_key=True),
        sa.Column("theoretical", TIME, nullable=False),
        sa.Column("paused_until", TIME, nullable=False),
        sa.Column("last_grant", sa.Text, nullable=False),  # the ask that took the last slot
    )


def downgrade() -> None:
    op.drop_table("slack_budget")
