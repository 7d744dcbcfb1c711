"""what a decline means: this visit, the day or the drive

Adds visit_response.scope: a volunteer who declines says whether only this visit is the
problem ("visit") or they cannot come that day ("day") or at all ("drive"). Only adds a
nullable column.

Revision ID: i14_decline_scope
Revises: a76efa953eda
Create Date: 2026-12-03 17:20:00
"""

import sqlalchemy as sa
from alembic import op

revision = "i14_decline_scope"
down_revision = "a76efa953eda"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("visit_response", schema=None) as batch_op:
        batch_op.add_column(sa.Column("scope", sa.String(length=8), nullable=True))


def downgrade():
    with op.batch_alter_table("visit_response", schema=None) as batch_op:
        batch_op.drop_column("scope")
