"""slack_budget.finals_until: a worker holding a run's last progress write keeps other workers' earlier
states off the line until then (activities/slack/shared_budget.py).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "slack_budget",
        sa.Column(
            "finals_until",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.text("'1970-01-01 00:00:00+00'"),
        ),
    )


def downgrade() -> None:
    op.drop_column("slack_budget", "finals_until")
