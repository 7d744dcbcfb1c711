"""Join the schema changes of issues 15 (volunteer retention) and 17 (idempotency, submitter).

Revision ID: m20261204_join
Revises: i15_volunteer_retention, i17_request_submitter
"""

revision = "m20261204_join"
down_revision = ("i15_volunteer_retention", "i17_request_submitter")
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing to change: the two branches touch different tables."""


def downgrade() -> None:
    """Nothing to change: the two branches touch different tables."""
