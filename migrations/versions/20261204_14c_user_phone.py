"""an account's phone: the coordinator's contact in a minor's guardian's SMS

Adds user_account.phone (E.164, a Vietnamese mobile, optional). A minor's guardian who gets an
SMS about the minor's day can reach the drive's coordinator at it (docs/sms.md).

Revision ID: i14c_user_phone
Revises: i15_import_jobs
Create Date: 2026-12-04 19:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "i14c_user_phone"
down_revision = "i15_import_jobs"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.add_column(sa.Column("phone", sa.String(length=20), nullable=True))


def downgrade():
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.drop_column("phone")
