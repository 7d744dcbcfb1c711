"""a volunteer's day link

Adds personal_link.day: the local drive day of a "volunteer_day" link, the one link in a
volunteer's SMS of the day that opens all their visits of that day. Nullable, so existing
links (one visit each) are untouched.

Revision ID: i18_day_links
Revises: i16n_report_indexes
Create Date: 2026-12-04 19:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "i18_day_links"
down_revision = "i16n_report_indexes"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("personal_link") as batch:
        batch.add_column(sa.Column("day", sa.Date(), nullable=True))


def downgrade():
    with op.batch_alter_table("personal_link") as batch:
        batch.drop_column("day")
