"""Create response_urls: each command's response_url, kept out of workflow history (core/response_urls.py).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "response_urls",
        sa.Column("workflow_id", sa.Text, primary_key=True),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_response_urls_expires_at", "response_urls", ["expires_at"])  # the purge of expired rows


def downgrade() -> None:
    op.drop_index("ix_response_urls_expires_at", table_name="response_urls")
    op.drop_table("response_urls")
