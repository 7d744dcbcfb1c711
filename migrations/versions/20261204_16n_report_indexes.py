"""report indexes

Indexes for the reports' period filters over a country's data: visits by ``starts_at`` and
messages by ``created_at`` (a year of national drives holds 1,000,000 visits and 2,000,000
messages; without them a 90-day report reads every row of both tables).

Revision ID: i16n_report_indexes
Revises: i14_not_duplicate
Create Date: 2026-12-04 07:00:00
"""

from alembic import op

revision = "i16n_report_indexes"
down_revision = "i14_not_duplicate"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_visit_starts_at", "visit", ["starts_at"])
    op.create_index("ix_message_created_at", "message", ["created_at"])


def downgrade():
    op.drop_index("ix_message_created_at", table_name="message")
    op.drop_index("ix_visit_starts_at", table_name="visit")
