"""One rating per run and person (a later click replaces an earlier one), and an index for the retention of
slack_message_states (activities/slack/shared_budget.py deletes states older than SLACK_MESSAGE_STATE_RETENTION_DAYS).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# Each person's latest click on a run is their rating: drop every row a later one (by the same person on
# the same run) supersedes, so the unique index can be built. feedback_id breaks a tie in given_at.
_COLLAPSE = """
    DELETE FROM answer_feedback
    WHERE EXISTS (
        SELECT 1 FROM answer_feedback AS later
        WHERE later.workflow_id = answer_feedback.workflow_id
          AND later.given_by = answer_feedback.given_by
          AND (later.given_at > answer_feedback.given_at
               OR (later.given_at = answer_feedback.given_at AND later.feedback_id > answer_feedback.feedback_id))
    )
"""


def upgrade() -> None:
    op.execute(sa.text(_COLLAPSE))
    # Leads with workflow_id, so it also serves ix_answer_feedback_workflow_id's reads.
    op.drop_index("ix_answer_feedback_workflow_id", table_name="answer_feedback")
    op.create_index(
        "ux_answer_feedback_workflow_id_given_by", "answer_feedback", ["workflow_id", "given_by"], unique=True
    )
    op.create_index("ix_slack_message_states_reported_at", "slack_message_states", ["reported_at"])


def downgrade() -> None:
    op.drop_index("ix_slack_message_states_reported_at", table_name="slack_message_states")
    op.drop_index("ux_answer_feedback_workflow_id_given_by", table_name="answer_feedback")
    op.create_index("ix_answer_feedback_workflow_id", "answer_feedback", ["workflow_id"])
