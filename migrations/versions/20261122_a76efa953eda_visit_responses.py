"""visit responses from personal links and SMS

Adds visit_response: what a volunteer or household answered about a visit (accept, decline
with a reason, confirm, cancel, ask for another time, done, feedback), kept until a coordinator
re-plans. Only adds a table.

Revision ID: a76efa953eda
Revises: 8b9d26c80277
Create Date: 2026-11-22 02:02:09.367136
"""

import sqlalchemy as sa
from alembic import op

revision = "a76efa953eda"
down_revision = "8b9d26c80277"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "visit_response",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("visit_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=12), nullable=False),
        sa.Column("volunteer_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["resolved_by_id"],
            ["user_account.id"],
            name=op.f("fk_visit_response_resolved_by_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["visit_id"],
            ["visit.id"],
            name=op.f("fk_visit_response_visit_id_visit"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["volunteer_id"],
            ["volunteer.id"],
            name=op.f("fk_visit_response_volunteer_id_volunteer"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visit_response")),
    )
    with op.batch_alter_table("visit_response", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_visit_response_visit_id"), ["visit_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_visit_response_volunteer_id"), ["volunteer_id"], unique=False
        )


def downgrade():
    with op.batch_alter_table("visit_response", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_visit_response_volunteer_id"))
        batch_op.drop_index(batch_op.f("ix_visit_response_visit_id"))

    op.drop_table("visit_response")
