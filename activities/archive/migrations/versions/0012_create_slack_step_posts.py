"""Create slack_step_posts: which attempt may post a run's step, and its ts once posted
(activities/slack/step_posts.py).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "slack_step_posts",
        sa.Column("workflow_id", sa.Text, primary_key=True),
        sa.Column("step", sa.Text, primary_key=True),
        sa.Column("owner", sa.Text, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("ts", sa.Text, nullable=True),
        sa.Column("sending_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_slack_step_posts_updated_at", "slack_step_posts", ["updated_at"])  # the sweep of old rows


def downgrade() -> None:
    op.drop_index("ix_slack_step_posts_updated_at", table_name="slack_step_posts")
    op.drop_table("slack_step_posts")
