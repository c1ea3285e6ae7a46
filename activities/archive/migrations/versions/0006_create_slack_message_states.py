"""Create slack_message_states: the newest state sent to each informing Slack message, shared by the workers.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "slack_message_states",
        sa.Column("workspace", sa.Text, primary_key=True),
        sa.Column("message", sa.Text, primary_key=True),  # channel:ts
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("slack_message_states")
