"""report totals

Per-commune daily totals for the national reports (``commune_day_totals``), the volunteers
who went per commune and day (``volunteer_day_totals``, for distinct counts and hours), the
urgent requests served per day with their wait (``urgent_visit_days``), the
days computed (``report_day``) and the days a late change made stale (``report_stale_day``).
The worker fills them; ``volunteer-hub reports rebuild-totals`` rebuilds a range.

Revision ID: i16t_report_totals
Revises: i14c_user_phone
Create Date: 2026-12-04 19:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "i16t_report_totals"
down_revision = "i14c_user_phone"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "commune_day_totals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("commune_id", sa.Integer(), nullable=True),
        sa.Column("requests_received", sa.Integer(), nullable=False),
        sa.Column("follow_ups_received", sa.Integer(), nullable=False),
        sa.Column("urgent_received", sa.Integer(), nullable=False),
        sa.Column("planned", sa.Integer(), nullable=False),
        sa.Column("served", sa.Integer(), nullable=False),
        sa.Column("not_home", sa.Integer(), nullable=False),
        sa.Column("people_helped", sa.Integer(), nullable=False),
        sa.Column("volunteer_hours", sa.Float(), nullable=False),
        sa.Column("sms_sent", sa.Integer(), nullable=False),
        sa.Column("sms_delivered", sa.Integer(), nullable=False),
        sa.Column("sms_failed", sa.Integer(), nullable=False),
        sa.Column("sms_cost", sa.Float(), nullable=False),
        sa.Column("sms_units", sa.JSON(), nullable=False),
        sa.Column("outcomes", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["commune_id"],
            ["commune.id"],
            name=op.f("fk_commune_day_totals_commune_id_commune"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commune_day_totals")),
    )
    op.create_index(
        "ix_commune_day_totals_day_commune", "commune_day_totals", ["day", "commune_id"]
    )
    op.create_table(
        "volunteer_day_totals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("commune_id", sa.Integer(), nullable=False),
        sa.Column("volunteer_id", sa.Integer(), nullable=False),
        sa.Column("minutes", sa.Float(), nullable=False),
        sa.Column("visits", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["commune_id"],
            ["commune.id"],
            name=op.f("fk_volunteer_day_totals_commune_id_commune"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["volunteer_id"],
            ["volunteer.id"],
            name=op.f("fk_volunteer_day_totals_volunteer_id_volunteer"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_volunteer_day_totals")),
    )
    op.create_index(
        "ix_volunteer_day_totals_day_commune", "volunteer_day_totals", ["day", "commune_id"]
    )
    op.create_table(
        "urgent_visit_days",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("commune_id", sa.Integer(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("wait_days", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["commune_id"],
            ["commune.id"],
            name=op.f("fk_urgent_visit_days_commune_id_commune"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_urgent_visit_days")),
    )
    op.create_index("ix_urgent_visit_days_day", "urgent_visit_days", ["day", "received_at"])
    op.create_table(
        "report_day",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_report_day")),
    )
    op.create_table(
        "report_stale_day",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("marked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_stale_day")),
    )
    op.create_index("ix_report_stale_day_day", "report_stale_day", ["day"])


def downgrade():
    op.drop_index("ix_report_stale_day_day", table_name="report_stale_day")
    op.drop_table("report_stale_day")
    op.drop_table("report_day")
    op.drop_index("ix_urgent_visit_days_day", table_name="urgent_visit_days")
    op.drop_table("urgent_visit_days")
    op.drop_index("ix_volunteer_day_totals_day_commune", table_name="volunteer_day_totals")
    op.drop_table("volunteer_day_totals")
    op.drop_index("ix_commune_day_totals_day_commune", table_name="commune_day_totals")
    op.drop_table("commune_day_totals")
