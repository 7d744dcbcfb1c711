"""search text

Adds help_request.search_text and volunteer.search_text: names (and a request's reference and
house) folded to lowercase ASCII so a search ignores accents and case on both databases, filled
for the rows already there. On PostgreSQL the column gets a trigram index (pg_trgm, a trusted
extension since PostgreSQL 13: the database owner may create it) serving LIKE '%…%'.

Revision ID: i16_search_text
Revises: m20261204_join
Create Date: 2026-12-04 10:00:00
"""

import sqlalchemy as sa
from alembic import op
from unidecode import unidecode

revision = "i16_search_text"
down_revision = "m20261204_join"
branch_labels = None
depends_on = None

# The fields folded per table, as volunteer_hub/models/search.py folds them on every write.
FIELDS = {
    "help_request": ("reference", "beneficiary_name", "contact_name", "house"),
    "volunteer": ("full_name", "school_or_unit"),
}


def _fold(*parts):
    text = " ".join(part for part in parts if part)
    return " ".join(unidecode(text).lower().split())[:600]


def upgrade():
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for table, fields in FIELDS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column("search_text", sa.Text(), server_default="", nullable=False)
            )
        rows = sa.table(table, sa.column("id"), sa.column("search_text"), *map(sa.column, fields))
        bind = op.get_bind()
        found = bind.execute(sa.select(rows.c.id, *(rows.c[name] for name in fields))).all()
        for start in range(0, len(found), 5000):
            bind.execute(
                rows.update().where(rows.c.id == sa.bindparam("row_id")),
                [
                    {"row_id": row[0], "search_text": _fold(*row[1:])}
                    for row in found[start : start + 5000]
                ],
            )
        op.create_index(
            f"ix_{table}_search_text",
            table,
            ["search_text"],
            postgresql_using="gin",
            postgresql_ops={"search_text": "gin_trgm_ops"},
        )


def downgrade():
    for table in FIELDS:
        op.drop_index(f"ix_{table}_search_text", table_name=table)
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("search_text")
