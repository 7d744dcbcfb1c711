"""Join the schema changes of issues 14, 15 and 16, made side by side.

Revision ID: m20261203_join
Revises: i14_decline_scope, i15_access, i16_worker_heartbeats
"""

revision = "m20261203_join"
down_revision = ("i14_decline_scope", "i15_access", "i16_worker_heartbeats")
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing to change: the three branches touch different tables."""


def downgrade() -> None:
    """Nothing to change: the three branches touch different tables."""
