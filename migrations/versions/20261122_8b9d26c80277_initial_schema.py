"""initial schema

Revision ID: 8b9d26c80277
Revises: (none)
Create Date: 2026-11-22 01:45:34.594201
"""

import sqlalchemy as sa
from alembic import op

revision = "8b9d26c80277"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "inbound_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider_sid", sa.String(length=64), nullable=False),
        sa.Column("from_phone", sa.String(length=20), nullable=False),
        sa.Column("to_phone", sa.String(length=20), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=True),
        sa.Column("result", sa.String(length=300), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_message")),
        sa.UniqueConstraint("provider_sid", name=op.f("uq_inbound_message_provider_sid")),
    )
    with op.batch_alter_table("inbound_message", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_inbound_message_from_phone"), ["from_phone"], unique=False
        )

    op.create_table(
        "province",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=8), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("short_name", sa.String(length=120), nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lng", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_province")),
        sa.UniqueConstraint("code", name=op.f("uq_province_code")),
    )
    op.create_table(
        "skill",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name_vi", sa.String(length=120), nullable=False),
        sa.Column("name_en", sa.String(length=120), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_skill")),
        sa.UniqueConstraint("code", name=op.f("uq_skill_code")),
    )
    op.create_table(
        "sms_opt_out",
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("opted_out_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("note", sa.String(length=300), nullable=True),
        sa.PrimaryKeyConstraint("phone", name=op.f("pk_sms_opt_out")),
    )
    op.create_table(
        "user_account",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column(
            "role",
            sa.Enum("admin", "coordinator", "partner", name="role", native_enum=False, length=24),
            nullable=False,
        ),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("locale", sa.String(length=8), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("session_version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_account")),
        sa.UniqueConstraint("email", name=op.f("uq_user_account_email")),
    )
    op.create_table(
        "api_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_api_token_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_token")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_token_token_hash")),
    )
    op.create_table(
        "commune",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=8), nullable=False),
        sa.Column("province_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("short_name", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lng", sa.Float(), nullable=True),
        sa.Column("area_km2", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["province_id"], ["province.id"], name=op.f("fk_commune_province_id_province")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commune")),
        sa.UniqueConstraint("code", name=op.f("uq_commune_code")),
    )
    with op.batch_alter_table("commune", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_commune_province_id"), ["province_id"], unique=False)

    op.create_table(
        "drive",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=160), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "draft",
                "planning",
                "published",
                "completed",
                "cancelled",
                name="drivestatus",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("team_size", sa.Integer(), nullable=False),
        sa.Column("unaccented_sms", sa.Boolean(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("row_version", sa.Integer(), nullable=False),
        sa.CheckConstraint("team_size IN (1, 2)", name=op.f("ck_drive_team_size_values")),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["user_account.id"], name=op.f("fk_drive_created_by_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_drive")),
    )
    with op.batch_alter_table("drive", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_drive_status"), ["status"], unique=False)

    op.create_table(
        "message_template",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("locale", sa.String(length=8), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["updated_by_id"],
            ["user_account.id"],
            name=op.f("fk_message_template_updated_by_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_template")),
        sa.UniqueConstraint("kind", "locale", name=op.f("uq_message_template_kind_locale")),
    )
    op.create_table(
        "service",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name_vi", sa.String(length=160), nullable=False),
        sa.Column("name_en", sa.String(length=160), nullable=False),
        sa.Column("bring_vi", sa.String(length=300), nullable=True),
        sa.Column("bring_en", sa.String(length=300), nullable=True),
        sa.Column("usual_min", sa.Integer(), nullable=False),
        sa.Column("skill_id", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("sort_order", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["skill_id"], ["skill.id"], name=op.f("fk_service_skill_id_skill")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service")),
        sa.UniqueConstraint("code", name=op.f("uq_service_code")),
    )
    op.create_table(
        "audit_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=254), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("entity", sa.String(length=40), nullable=False),
        sa.Column("entity_id", sa.String(length=40), nullable=True),
        sa.Column("commune_id", sa.Integer(), nullable=True),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["commune_id"], ["commune.id"], name=op.f("fk_audit_event_commune_id_commune")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_audit_event_user_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_event")),
    )
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_event_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_event_user_id"), ["user_id"], unique=False)

    op.create_table(
        "drive_commune",
        sa.Column("drive_id", sa.Integer(), nullable=False),
        sa.Column("commune_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["commune_id"], ["commune.id"], name=op.f("fk_drive_commune_commune_id_commune")
        ),
        sa.ForeignKeyConstraint(
            ["drive_id"],
            ["drive.id"],
            name=op.f("fk_drive_commune_drive_id_drive"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("drive_id", "commune_id", name=op.f("pk_drive_commune")),
    )
    op.create_table(
        "drive_service",
        sa.Column("drive_id", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "minutes BETWEEN 5 AND 240", name=op.f("ck_drive_service_minutes_range")
        ),
        sa.ForeignKeyConstraint(
            ["drive_id"],
            ["drive.id"],
            name=op.f("fk_drive_service_drive_id_drive"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["service_id"], ["service.id"], name=op.f("fk_drive_service_service_id_service")
        ),
        sa.PrimaryKeyConstraint("drive_id", "service_id", name=op.f("pk_drive_service")),
    )
    op.create_table(
        "hamlet",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("commune_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("hamlet", "residential_group", name="hamletkind", native_enum=False, length=24),
            nullable=False,
        ),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lng", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["commune_id"], ["commune.id"], name=op.f("fk_hamlet_commune_id_commune")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hamlet")),
        sa.UniqueConstraint("commune_id", "name", name=op.f("uq_hamlet_commune_id_name")),
    )
    with op.batch_alter_table("hamlet", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_hamlet_commune_id"), ["commune_id"], unique=False)

    op.create_table(
        "meeting_point",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("drive_id", sa.Integer(), nullable=False),
        sa.Column("commune_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=160), nullable=False),
        sa.Column("address", sa.String(length=300), nullable=True),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lng", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["commune_id"], ["commune.id"], name=op.f("fk_meeting_point_commune_id_commune")
        ),
        sa.ForeignKeyConstraint(
            ["drive_id"],
            ["drive.id"],
            name=op.f("fk_meeting_point_drive_id_drive"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meeting_point")),
    )
    with op.batch_alter_table("meeting_point", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_meeting_point_drive_id"), ["drive_id"], unique=False)

    op.create_table(
        "plan",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("drive_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "queued",
                "running",
                "done",
                "failed",
                "cancelled",
                name="planstatus",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("based_on_id", sa.Integer(), nullable=True),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("problem", sa.JSON(), nullable=True),
        sa.Column("result", sa.JSON(), nullable=True),
        sa.Column("progress", sa.JSON(), nullable=False),
        sa.Column("stop_requested", sa.Boolean(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("row_version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["based_on_id"], ["plan.id"], name=op.f("fk_plan_based_on_id_plan")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["user_account.id"], name=op.f("fk_plan_created_by_id_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["drive_id"], ["drive.id"], name=op.f("fk_plan_drive_id_drive"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan")),
        sa.UniqueConstraint("drive_id", "version", name=op.f("uq_plan_drive_id_version")),
    )
    with op.batch_alter_table("plan", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_plan_drive_id"), ["drive_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_plan_status"), ["status"], unique=False)

    op.create_table(
        "time_block",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("drive_id", sa.Integer(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("starts_at < ends_at", name=op.f("ck_time_block_ordered_times")),
        sa.ForeignKeyConstraint(
            ["drive_id"],
            ["drive.id"],
            name=op.f("fk_time_block_drive_id_drive"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_time_block")),
    )
    with op.batch_alter_table("time_block", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_time_block_drive_id"), ["drive_id"], unique=False)

    op.create_table(
        "user_commune",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("commune_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["commune_id"],
            ["commune.id"],
            name=op.f("fk_user_commune_commune_id_commune"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_user_commune_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "commune_id", name=op.f("pk_user_commune")),
    )
    op.create_table(
        "help_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=12), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "new",
                "triaged",
                "scheduled",
                "confirmed",
                "done",
                "not_home",
                "referred",
                "cancelled",
                name="requeststatus",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column(
            "source",
            sa.Enum(
                "web",
                "api",
                "phone",
                "in_person",
                "import",
                "follow_up",
                name="requestsource",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("beneficiary_name", sa.String(length=120), nullable=False),
        sa.Column(
            "age_group",
            sa.Enum(
                "under_18",
                "18_59",
                "60_74",
                "75_plus",
                name="agegroup",
                native_enum=False,
                length=24,
            ),
            nullable=True,
        ),
        sa.Column("situations", sa.JSON(), nullable=False),
        sa.Column("people_count", sa.Integer(), nullable=False),
        sa.Column("languages", sa.JSON(), nullable=False),
        sa.Column("contact_is_beneficiary", sa.Boolean(), nullable=False),
        sa.Column("contact_name", sa.String(length=120), nullable=True),
        sa.Column("contact_relation", sa.String(length=80), nullable=True),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("phone_is_mobile", sa.Boolean(), nullable=False),
        sa.Column("reach_note", sa.String(length=300), nullable=True),
        sa.Column("commune_id", sa.Integer(), nullable=False),
        sa.Column("hamlet_id", sa.Integer(), nullable=True),
        sa.Column("hamlet_name", sa.String(length=120), nullable=True),
        sa.Column("house", sa.String(length=200), nullable=True),
        sa.Column("landmark", sa.String(length=300), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lng", sa.Float(), nullable=True),
        sa.Column(
            "location_source",
            sa.Enum(
                "pin", "hamlet", "commune", name="locationsource", native_enum=False, length=24
            ),
            nullable=False,
        ),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("consent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("consent_version", sa.String(length=20), nullable=False),
        sa.Column("possible_duplicate_of_id", sa.Integer(), nullable=True),
        sa.Column("follow_up_of_id", sa.Integer(), nullable=True),
        sa.Column("follow_up_reason", sa.String(length=300), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status_changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("contact_purged_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "people_count BETWEEN 1 AND 20", name=op.f("ck_help_request_people_count_range")
        ),
        sa.CheckConstraint("priority BETWEEN 1 AND 5", name=op.f("ck_help_request_priority_range")),
        sa.ForeignKeyConstraint(
            ["commune_id"], ["commune.id"], name=op.f("fk_help_request_commune_id_commune")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["user_account.id"],
            name=op.f("fk_help_request_created_by_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["follow_up_of_id"],
            ["help_request.id"],
            name=op.f("fk_help_request_follow_up_of_id_help_request"),
        ),
        sa.ForeignKeyConstraint(
            ["hamlet_id"], ["hamlet.id"], name=op.f("fk_help_request_hamlet_id_hamlet")
        ),
        sa.ForeignKeyConstraint(
            ["possible_duplicate_of_id"],
            ["help_request.id"],
            name=op.f("fk_help_request_possible_duplicate_of_id_help_request"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_help_request")),
        sa.UniqueConstraint("reference", name=op.f("uq_help_request_reference")),
    )
    with op.batch_alter_table("help_request", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_help_request_commune_id"), ["commune_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_help_request_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_help_request_phone"), ["phone"], unique=False)
        batch_op.create_index(batch_op.f("ix_help_request_status"), ["status"], unique=False)

    op.create_table(
        "team",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("drive_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column(
            "mode",
            sa.Enum(
                "walk", "bicycle", "motorbike", name="travelmode", native_enum=False, length=24
            ),
            nullable=False,
        ),
        sa.Column("meeting_point_id", sa.Integer(), nullable=True),
        sa.Column("returns_to_start", sa.Boolean(), nullable=False),
        sa.Column("max_visits", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["drive_id"], ["drive.id"], name=op.f("fk_team_drive_id_drive"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["meeting_point_id"],
            ["meeting_point.id"],
            name=op.f("fk_team_meeting_point_id_meeting_point"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_team")),
        sa.UniqueConstraint("drive_id", "code", name=op.f("uq_team_drive_id_code")),
    )
    with op.batch_alter_table("team", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_team_drive_id"), ["drive_id"], unique=False)

    op.create_table(
        "volunteer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("full_name", sa.String(length=120), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("phone_verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "kind",
            sa.Enum(
                "student",
                "ambassador",
                "community",
                name="volunteerkind",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("school_or_unit", sa.String(length=160), nullable=True),
        sa.Column("date_of_birth", sa.Date(), nullable=False),
        sa.Column("guardian_name", sa.String(length=120), nullable=True),
        sa.Column("guardian_phone", sa.String(length=20), nullable=True),
        sa.Column("guardian_consent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("consent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("consent_version", sa.String(length=20), nullable=False),
        sa.Column("home_commune_id", sa.Integer(), nullable=False),
        sa.Column("home_hamlet_id", sa.Integer(), nullable=True),
        sa.Column("home_lat", sa.Float(), nullable=True),
        sa.Column("home_lng", sa.Float(), nullable=True),
        sa.Column(
            "travel_mode",
            sa.Enum(
                "walk", "bicycle", "motorbike", name="travelmode", native_enum=False, length=24
            ),
            nullable=False,
        ),
        sa.Column("languages", sa.JSON(), nullable=False),
        sa.Column("max_visits_per_day", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "active",
                "inactive",
                name="volunteerstatus",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("approved_by_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "max_visits_per_day BETWEEN 1 AND 12", name=op.f("ck_volunteer_max_visits_range")
        ),
        sa.ForeignKeyConstraint(
            ["approved_by_id"],
            ["user_account.id"],
            name=op.f("fk_volunteer_approved_by_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["home_commune_id"], ["commune.id"], name=op.f("fk_volunteer_home_commune_id_commune")
        ),
        sa.ForeignKeyConstraint(
            ["home_hamlet_id"], ["hamlet.id"], name=op.f("fk_volunteer_home_hamlet_id_hamlet")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_volunteer")),
        sa.UniqueConstraint("phone", name=op.f("uq_volunteer_phone")),
    )
    with op.batch_alter_table("volunteer", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_volunteer_home_commune_id"), ["home_commune_id"], unique=False
        )

    op.create_table(
        "drive_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("drive_id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("included_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["drive_id"],
            ["drive.id"],
            name=op.f("fk_drive_request_drive_id_drive"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["help_request.id"],
            name=op.f("fk_drive_request_request_id_help_request"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_drive_request")),
        sa.UniqueConstraint(
            "drive_id", "request_id", name=op.f("uq_drive_request_drive_id_request_id")
        ),
    )
    with op.batch_alter_table("drive_request", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_drive_request_drive_id"), ["drive_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_drive_request_request_id"), ["request_id"], unique=False
        )

    op.create_table(
        "drive_volunteer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("drive_id", sa.Integer(), nullable=False),
        sa.Column("volunteer_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "invited",
                "accepted",
                "declined",
                "withdrawn",
                name="invitationstatus",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("invited_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("responded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.String(length=300), nullable=True),
        sa.ForeignKeyConstraint(
            ["drive_id"],
            ["drive.id"],
            name=op.f("fk_drive_volunteer_drive_id_drive"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["volunteer_id"],
            ["volunteer.id"],
            name=op.f("fk_drive_volunteer_volunteer_id_volunteer"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_drive_volunteer")),
        sa.UniqueConstraint(
            "drive_id", "volunteer_id", name=op.f("uq_drive_volunteer_drive_id_volunteer_id")
        ),
    )
    with op.batch_alter_table("drive_volunteer", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_drive_volunteer_drive_id"), ["drive_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_drive_volunteer_volunteer_id"), ["volunteer_id"], unique=False
        )

    op.create_table(
        "phone_verification",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("volunteer_id", sa.Integer(), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["volunteer_id"],
            ["volunteer.id"],
            name=op.f("fk_phone_verification_volunteer_id_volunteer"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_phone_verification")),
    )
    with op.batch_alter_table("phone_verification", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_phone_verification_volunteer_id"), ["volunteer_id"], unique=False
        )

    op.create_table(
        "request_service",
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["help_request.id"],
            name=op.f("fk_request_service_request_id_help_request"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["service_id"], ["service.id"], name=op.f("fk_request_service_service_id_service")
        ),
        sa.PrimaryKeyConstraint("request_id", "service_id", name=op.f("pk_request_service")),
    )
    op.create_table(
        "request_window",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("starts_at < ends_at", name=op.f("ck_request_window_ordered_times")),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["help_request.id"],
            name=op.f("fk_request_window_request_id_help_request"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_request_window")),
    )
    with op.batch_alter_table("request_window", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_request_window_request_id"), ["request_id"], unique=False
        )

    op.create_table(
        "team_member",
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("volunteer_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"], ["team.id"], name=op.f("fk_team_member_team_id_team"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["volunteer_id"], ["volunteer.id"], name=op.f("fk_team_member_volunteer_id_volunteer")
        ),
        sa.PrimaryKeyConstraint("team_id", "volunteer_id", name=op.f("pk_team_member")),
    )
    op.create_table(
        "visit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=True),
        sa.Column("shift_index", sa.Integer(), nullable=True),
        sa.Column("seq", sa.Integer(), nullable=True),
        sa.Column("arrival_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("pinned", sa.Boolean(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "planned",
                "unassigned",
                "scheduled",
                "confirmed",
                "declined",
                "in_progress",
                "done",
                "not_home",
                "cancelled",
                name="visitstatus",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("unassigned_reason", sa.String(length=20), nullable=True),
        sa.Column("unassigned_detail", sa.String(length=300), nullable=True),
        sa.Column("volunteer_accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("household_confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("checked_in_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("people_helped", sa.Integer(), nullable=True),
        sa.Column("minutes_spent", sa.Integer(), nullable=True),
        sa.Column("report_note", sa.Text(), nullable=True),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["plan.id"], name=op.f("fk_visit_plan_id_plan"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["request_id"], ["help_request.id"], name=op.f("fk_visit_request_id_help_request")
        ),
        sa.ForeignKeyConstraint(["team_id"], ["team.id"], name=op.f("fk_visit_team_id_team")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visit")),
        sa.UniqueConstraint("plan_id", "request_id", name=op.f("uq_visit_plan_id_request_id")),
    )
    with op.batch_alter_table("visit", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_visit_plan_id"), ["plan_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_visit_request_id"), ["request_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_visit_team_id"), ["team_id"], unique=False)

    op.create_table(
        "volunteer_absence",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("volunteer_id", sa.Integer(), nullable=False),
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=True),
        sa.CheckConstraint("first_day <= last_day", name=op.f("ck_volunteer_absence_ordered_days")),
        sa.ForeignKeyConstraint(
            ["volunteer_id"],
            ["volunteer.id"],
            name=op.f("fk_volunteer_absence_volunteer_id_volunteer"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_volunteer_absence")),
    )
    with op.batch_alter_table("volunteer_absence", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_volunteer_absence_volunteer_id"), ["volunteer_id"], unique=False
        )

    op.create_table(
        "volunteer_availability",
        sa.Column("volunteer_id", sa.Integer(), nullable=False),
        sa.Column(
            "slot",
            sa.Enum(
                "sat_morning",
                "sat_afternoon",
                "sun_morning",
                "sun_afternoon",
                "weekday_evening",
                name="availabilityslot",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["volunteer_id"],
            ["volunteer.id"],
            name=op.f("fk_volunteer_availability_volunteer_id_volunteer"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("volunteer_id", "slot", name=op.f("pk_volunteer_availability")),
    )
    op.create_table(
        "volunteer_skill",
        sa.Column("volunteer_id", sa.Integer(), nullable=False),
        sa.Column("skill_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.CheckConstraint("level BETWEEN 1 AND 3", name=op.f("ck_volunteer_skill_level_range")),
        sa.ForeignKeyConstraint(
            ["skill_id"], ["skill.id"], name=op.f("fk_volunteer_skill_skill_id_skill")
        ),
        sa.ForeignKeyConstraint(
            ["volunteer_id"],
            ["volunteer.id"],
            name=op.f("fk_volunteer_skill_volunteer_id_volunteer"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("volunteer_id", "skill_id", name=op.f("pk_volunteer_skill")),
    )
    op.create_table(
        "message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=160), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("to_phone", sa.String(length=20), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("locale", sa.String(length=8), nullable=False),
        sa.Column("encoding", sa.String(length=8), nullable=False),
        sa.Column("segments", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "queued",
                "sending",
                "sent",
                "delivered",
                "undelivered",
                "failed",
                "held",
                "cancelled",
                name="messagestatus",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("send_after", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_by", sa.String(length=80), nullable=True),
        sa.Column("provider", sa.String(length=20), nullable=True),
        sa.Column("provider_sid", sa.String(length=64), nullable=True),
        sa.Column("error_code", sa.String(length=20), nullable=True),
        sa.Column("error_message", sa.String(length=500), nullable=True),
        sa.Column("price", sa.Numeric(precision=10, scale=5), nullable=True),
        sa.Column("price_unit", sa.String(length=8), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status_updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("drive_id", sa.Integer(), nullable=True),
        sa.Column("visit_id", sa.Integer(), nullable=True),
        sa.Column("volunteer_id", sa.Integer(), nullable=True),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["drive_id"], ["drive.id"], name=op.f("fk_message_drive_id_drive")),
        sa.ForeignKeyConstraint(
            ["request_id"], ["help_request.id"], name=op.f("fk_message_request_id_help_request")
        ),
        sa.ForeignKeyConstraint(["visit_id"], ["visit.id"], name=op.f("fk_message_visit_id_visit")),
        sa.ForeignKeyConstraint(
            ["volunteer_id"], ["volunteer.id"], name=op.f("fk_message_volunteer_id_volunteer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_message_idempotency_key")),
        sa.UniqueConstraint("provider_sid", name=op.f("uq_message_provider_sid")),
    )
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_message_drive_id"), ["drive_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_message_request_id"), ["request_id"], unique=False)
        batch_op.create_index("ix_message_status_due", ["status", "send_after"], unique=False)
        batch_op.create_index(batch_op.f("ix_message_to_phone"), ["to_phone"], unique=False)
        batch_op.create_index(batch_op.f("ix_message_visit_id"), ["visit_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_message_volunteer_id"), ["volunteer_id"], unique=False)

    op.create_table(
        "personal_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.String(length=30), nullable=False),
        sa.Column("visit_id", sa.Integer(), nullable=True),
        sa.Column("volunteer_id", sa.Integer(), nullable=True),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("drive_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("uses", sa.Integer(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["drive_id"], ["drive.id"], name=op.f("fk_personal_link_drive_id_drive")
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["help_request.id"],
            name=op.f("fk_personal_link_request_id_help_request"),
        ),
        sa.ForeignKeyConstraint(
            ["visit_id"], ["visit.id"], name=op.f("fk_personal_link_visit_id_visit")
        ),
        sa.ForeignKeyConstraint(
            ["volunteer_id"], ["volunteer.id"], name=op.f("fk_personal_link_volunteer_id_volunteer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_personal_link")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_personal_link_code_hash")),
    )
    with op.batch_alter_table("personal_link", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_personal_link_drive_id"), ["drive_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_personal_link_request_id"), ["request_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_personal_link_visit_id"), ["visit_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_personal_link_volunteer_id"), ["volunteer_id"], unique=False
        )

    op.create_table(
        "visit_outcome",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("visit_id", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=False),
        sa.Column(
            "outcome",
            sa.Enum(
                "done",
                "partly_done",
                "referred",
                "not_possible",
                "not_home",
                name="outcome",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("reason", sa.String(length=300), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["service_id"], ["service.id"], name=op.f("fk_visit_outcome_service_id_service")
        ),
        sa.ForeignKeyConstraint(
            ["visit_id"],
            ["visit.id"],
            name=op.f("fk_visit_outcome_visit_id_visit"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visit_outcome")),
        sa.UniqueConstraint(
            "visit_id", "service_id", name=op.f("uq_visit_outcome_visit_id_service_id")
        ),
    )
    with op.batch_alter_table("visit_outcome", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_visit_outcome_visit_id"), ["visit_id"], unique=False)


def downgrade():
    with op.batch_alter_table("visit_outcome", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_visit_outcome_visit_id"))

    op.drop_table("visit_outcome")
    with op.batch_alter_table("personal_link", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_personal_link_volunteer_id"))
        batch_op.drop_index(batch_op.f("ix_personal_link_visit_id"))
        batch_op.drop_index(batch_op.f("ix_personal_link_request_id"))
        batch_op.drop_index(batch_op.f("ix_personal_link_drive_id"))

    op.drop_table("personal_link")
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_message_volunteer_id"))
        batch_op.drop_index(batch_op.f("ix_message_visit_id"))
        batch_op.drop_index(batch_op.f("ix_message_to_phone"))
        batch_op.drop_index("ix_message_status_due")
        batch_op.drop_index(batch_op.f("ix_message_request_id"))
        batch_op.drop_index(batch_op.f("ix_message_drive_id"))

    op.drop_table("message")
    op.drop_table("volunteer_skill")
    op.drop_table("volunteer_availability")
    with op.batch_alter_table("volunteer_absence", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_volunteer_absence_volunteer_id"))

    op.drop_table("volunteer_absence")
    with op.batch_alter_table("visit", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_visit_team_id"))
        batch_op.drop_index(batch_op.f("ix_visit_request_id"))
        batch_op.drop_index(batch_op.f("ix_visit_plan_id"))

    op.drop_table("visit")
    op.drop_table("team_member")
    with op.batch_alter_table("request_window", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_request_window_request_id"))

    op.drop_table("request_window")
    op.drop_table("request_service")
    with op.batch_alter_table("phone_verification", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_phone_verification_volunteer_id"))

    op.drop_table("phone_verification")
    with op.batch_alter_table("drive_volunteer", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_drive_volunteer_volunteer_id"))
        batch_op.drop_index(batch_op.f("ix_drive_volunteer_drive_id"))

    op.drop_table("drive_volunteer")
    with op.batch_alter_table("drive_request", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_drive_request_request_id"))
        batch_op.drop_index(batch_op.f("ix_drive_request_drive_id"))

    op.drop_table("drive_request")
    with op.batch_alter_table("volunteer", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_volunteer_home_commune_id"))

    op.drop_table("volunteer")
    with op.batch_alter_table("team", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_team_drive_id"))

    op.drop_table("team")
    with op.batch_alter_table("help_request", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_help_request_status"))
        batch_op.drop_index(batch_op.f("ix_help_request_phone"))
        batch_op.drop_index(batch_op.f("ix_help_request_created_at"))
        batch_op.drop_index(batch_op.f("ix_help_request_commune_id"))

    op.drop_table("help_request")
    op.drop_table("user_commune")
    with op.batch_alter_table("time_block", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_time_block_drive_id"))

    op.drop_table("time_block")
    with op.batch_alter_table("plan", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_plan_status"))
        batch_op.drop_index(batch_op.f("ix_plan_drive_id"))

    op.drop_table("plan")
    with op.batch_alter_table("meeting_point", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_meeting_point_drive_id"))

    op.drop_table("meeting_point")
    with op.batch_alter_table("hamlet", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_hamlet_commune_id"))

    op.drop_table("hamlet")
    op.drop_table("drive_service")
    op.drop_table("drive_commune")
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_event_user_id"))
        batch_op.drop_index(batch_op.f("ix_audit_event_at"))

    op.drop_table("audit_event")
    op.drop_table("service")
    op.drop_table("message_template")
    with op.batch_alter_table("drive", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_drive_status"))

    op.drop_table("drive")
    with op.batch_alter_table("commune", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_commune_province_id"))

    op.drop_table("commune")
    op.drop_table("api_token")
    op.drop_table("user_account")
    op.drop_table("sms_opt_out")
    op.drop_table("skill")
    op.drop_table("province")
    with op.batch_alter_table("inbound_message", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inbound_message_from_phone"))

    op.drop_table("inbound_message")
