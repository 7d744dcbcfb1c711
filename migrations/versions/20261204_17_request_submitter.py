"""who submitted a request through the API

Adds help_request.submitted_by_id: the account whose API token submitted the request (partner
apps included), so it can read the request back at GET /api/v1/requests/{reference}. Requests
stored before have none (their submitter was not kept) and stay readable by staff only.

Revision ID: i17_request_submitter
Revises: i17_idempotency
Create Date: 2026-12-04 09:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "i17_request_submitter"
down_revision = "i17_idempotency"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("help_request", schema=None) as batch_op:
        batch_op.add_column(sa.Column("submitted_by_id", sa.Integer(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_help_request_submitted_by_id"), ["submitted_by_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_help_request_submitted_by_id_user_account"),
            "user_account",
            ["submitted_by_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade():
    with op.batch_alter_table("help_request", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_help_request_submitted_by_id_user_account"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_help_request_submitted_by_id"))
        batch_op.drop_column("submitted_by_id")
