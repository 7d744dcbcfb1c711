"""Search as people type: names folded to plain lowercase ASCII, kept beside the record.

"nguyen van" finds "Nguyễn Văn" and "đông" finds "Đông" on SQLite and PostgreSQL alike, because
both sides of the comparison are folded the same way in Python (Unidecode) rather than by the
database: SQLite folds only ASCII case, and PostgreSQL's ``unaccent`` is an extension that
would make the two databases disagree. The folded text lives in a ``search_text`` column that
a mapper event refreshes on every insert and update, so it never lags the name (a purge that
blanks a name blanks its search text in the same flush). On PostgreSQL a trigram index
(``pg_trgm``) serves the ``LIKE '%…%'`` the lists run.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Index, event
from sqlalchemy.orm import InstrumentedAttribute
from unidecode import unidecode

#: Longest search text kept: a handful of names and an address fold to far less.
SEARCH_TEXT_MAX = 600
#: Longest query used: anything past it only slows the database down.
QUERY_MAX = 60


def fold(*parts: str | None) -> str:
    """Return the parts as one lowercase ASCII string, accents dropped, spaces collapsed."""
    text = " ".join(part for part in parts if part)
    return " ".join(unidecode(text).lower().split())[:SEARCH_TEXT_MAX]


def contains(column: InstrumentedAttribute[str] | Any, query: str) -> ColumnElement[bool]:
    """Match ``column`` (folded text) holding ``query`` anywhere; ``%`` and ``_`` literal."""
    needle = fold(query.strip()[:QUERY_MAX])
    needle = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return column.like(f"%{needle}%", escape="\\")


def trigram_index(table: str) -> Index:
    """The index on ``table.search_text``: trigram GIN on PostgreSQL, a plain one elsewhere."""
    return Index(
        f"ix_{table}_search_text",
        "search_text",
        postgresql_using="gin",
        postgresql_ops={"search_text": "gin_trgm_ops"},
    )


def keep_search_text(model: type, *fields: str) -> None:
    """Refresh ``model.search_text`` from ``fields`` before every insert and update."""

    def refresh(_mapper: Any, _connection: Any, target: Any) -> None:
        target.search_text = fold(*(getattr(target, name) for name in fields))

    event.listen(model, "before_insert", refresh)
    event.listen(model, "before_update", refresh)
