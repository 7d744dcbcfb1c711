"""The query string: the page asked for, ids of filters, and what a link may carry on."""

from __future__ import annotations

from flask import abort, request

from volunteer_hub.services.validation import parse_id

#: The last page a list offers: beyond it the offset would overflow the database's integers
#: long before any list is that long (a page past the end is a 404 anyway).
MAX_PAGE = 10_000


def page_arg() -> int:
    """Return the ``page`` query argument (1 when missing), at most MAX_PAGE; 404 when no page.

    A page past the last one is a 404 from the paginator, as "abc" or "0" is here.
    """
    text = (request.args.get("page") or "").strip()
    if not text:
        return 1
    if not (text.isascii() and text.isdigit()):
        abort(404)
    if len(text) > len(str(MAX_PAGE)):
        return MAX_PAGE
    number = int(text)
    if number < 1:
        abort(404)
    return min(number, MAX_PAGE)


def id_arg(name: str) -> int | None:
    """Return a query argument naming a record (``?commune=12``), or None when it names none."""
    return parse_id(request.args.get(name))


def query_args(*names: str) -> dict[str, str]:
    """Return the query string's arguments to carry into a link (only ``names``, if given).

    Never those url_for reads itself (``_external``, ``_scheme``...) nor the page's own URL
    parameters: carried over, they would break the link (a 500) or point it elsewhere.
    """
    own = request.view_args or {}
    return {
        key: value
        for key, value in request.args.items()
        if (not names or key in names) and not key.startswith("_") and key not in own
    }
