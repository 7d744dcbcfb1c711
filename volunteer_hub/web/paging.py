"""Cursor paging for the API's lists: ``?limit=`` and an opaque ``cursor``, keyset on id.

A page is the rows after the cursor's id in the list's order (newest first: id descending), so
rows added while a client pages through land before its position and never shift what is left:
every row present from start to end is visited exactly once. The answer carries the next page's
URL in the body (``next``, null on the last page) and in a ``Link: <...>; rel="next"`` header.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

from flask import Response, request, url_for
from flask_babel import gettext as _

from volunteer_hub.services.validation import MAX_ID, FieldErrors

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


@dataclass(frozen=True)
class Page:
    """What a list call asked for: at most ``limit`` rows with an id below ``before``."""

    limit: int
    before: int | None


def encode_cursor(last_id: int) -> str:
    """Return the opaque cursor of the page after the row ``last_id``."""
    raw = json.dumps({"v": 1, "before": last_id}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """Return the id a cursor points below, or raise ValueError."""
    if not cursor or len(cursor) > 100:
        raise ValueError("cursor")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise ValueError("cursor") from exc
    before = data.get("before") if isinstance(data, dict) else None
    if data.get("v") != 1 or isinstance(before, bool) or not isinstance(before, int):
        raise ValueError("cursor")
    if not 1 <= before <= MAX_ID + 1:
        raise ValueError("cursor")
    return before


#: The query parameters a list knows (``lang`` chooses the messages' language, as everywhere);
#: any other is refused, as a misspelt ``?limt=`` must not silently give the default page.
PARAMETERS = frozenset({"limit", "cursor", "lang"})


def parse_page(known: frozenset[str] = frozenset()) -> Page:
    """Read ``limit`` and ``cursor`` from the query string, or raise FieldErrors.

    ``known`` names the list's own parameters besides PARAMETERS (a report's period and
    place); any other is refused with them, every error at once.
    """
    unknown = sorted(set(request.args) - PARAMETERS - known)
    errors: dict[str, list[str]] = {name[:40]: [_("Unknown parameter.")] for name in unknown[:10]}
    limit = DEFAULT_LIMIT
    text = request.args.get("limit")
    if text is not None:
        if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
            errors["limit"] = [_("Enter a whole number from 1 to %(max)d.", max=MAX_LIMIT)]
        else:
            limit = int(text)
    before = None
    cursor = request.args.get("cursor")
    if cursor is not None:
        try:
            before = decode_cursor(cursor)
        except ValueError:
            errors["cursor"] = [
                _("This cursor is not one we gave; start again from the first page.")
            ]
    if errors:
        raise FieldErrors(errors)
    return Page(limit=limit, before=before)


def next_url(endpoint: str, page: Page, ids: list[int], **values: object) -> str | None:
    """Return the URL of the page after ``ids`` (the page's ids, in order), or None if last.

    The caller fetches ``limit + 1`` rows and passes them all: one more than asked means there
    is a next page.
    """
    if len(ids) <= page.limit:
        return None
    return url_for(endpoint, limit=page.limit, cursor=encode_cursor(ids[page.limit - 1]), **values)


def add_link(response: Response, url: str | None) -> Response:
    """Add the ``Link: <url>; rel="next"`` header when there is a next page."""
    if url:
        response.headers["Link"] = f'<{url}>; rel="next"'
    return response
