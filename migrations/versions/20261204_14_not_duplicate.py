"""a coordinator's "not a duplicate" on a help request

Adds help_request.not_duplicate: set when a coordinator checked a request flagged as a
possible duplicate and said it is another household, so planning no longer holds it back
when the request it resembles is in the same drive. Who said so is in the audit log.

Revision ID: i14_not_duplicate
Revises: i16_search_text
Create Date: 2026-12-04 00:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "i14_not_duplicate"
down_revision = "i16_search_text"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("help_request", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("not_duplicate", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade():
    with op.batch_alter_table("help_request", schema=None) as batch_op:
        batch_op.drop_column("not_duplicate")
