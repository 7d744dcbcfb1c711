"""volunteer retention

Adds volunteer.contact_purged_at: when the retention purge (VH_VOLUNTEER_RETENTION_DAYS)
removed a volunteer's and their guardian's personal details. Only adds a nullable column.

Revision ID: i15_volunteer_retention
Revises: m20261203_join
Create Date: 2026-12-04 09:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "i15_volunteer_retention"
down_revision = "m20261203_join"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("volunteer", schema=None) as batch_op:
        batch_op.add_column(sa.Column("contact_purged_at", sa.DateTime(timezone=True)))


def downgrade():
    with op.batch_alter_table("volunteer", schema=None) as batch_op:
        batch_op.drop_column("contact_purged_at")
