"""slack_message_states.sender and .sending_until: the claim of a message's newest state holds its send
lease until Slack answers, so a newer state claimed by another worker waits for the older send
(activities/slack/shared_budget.py).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("slack_message_states") as table:
        table.add_column(sa.Column("sender", sa.Text, nullable=False, server_default=""))
        table.add_column(
            sa.Column(
                "sending_until",
                sa.DateTime(timezone=True),
                nullable=False,
                server_default=sa.text("'1970-01-01 00:00:00+00'"),
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("slack_message_states") as table:
        table.drop_column("sending_until")
        table.drop_column("sender")
