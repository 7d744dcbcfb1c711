"""The query string: the page asked for, ids of filters, a report's period, and what a link may
carry on."""

from __future__ import annotations

from datetime import date, timedelta

from flask import abort, request
from flask_babel import gettext as _

from volunteer_hub.services.results.reports import Period
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


#: The dashboard's default period: the last quarter.
DEFAULT_DAYS = 90
MAX_DAYS = 3 * 366
#: Years a report may cover: the movement's, with room; far dates would overflow the
#: conversion of local days to UTC instants (year 1 or 9999).
FIRST_YEAR, LAST_YEAR = 2000, 2100


class ReportQueryError(ValueError):
    """The report's parameters are not valid; the message says why (a 422)."""


class PeriodError(ReportQueryError):
    """The period asked for is not valid; the message says why, ``field`` which date."""

    def __init__(self, message: str, field: str = "from") -> None:
        super().__init__(message)
        self.field = field


def _day(args: dict[str, str], name: str) -> date | None:
    text = args.get(name)
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise PeriodError(_("Dates are written YYYY-MM-DD."), name) from None
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise PeriodError(
            _(
                "Dates must fall between the years %(first)d and %(last)d.",
                first=FIRST_YEAR,
                last=LAST_YEAR,
            ),
            name,
        )
    return day


def parse_period(args: dict[str, str], today: date) -> Period:
    """Read ``from`` and ``to`` (YYYY-MM-DD); default to the last 90 days."""
    last = _day(args, "to") or today
    first = _day(args, "from")
    if first is None:
        first = last - timedelta(days=DEFAULT_DAYS)
    if first > last:
        raise PeriodError(_("The first day must not be after the last."))
    if (last - first).days > MAX_DAYS:
        raise PeriodError(_("A report covers at most three years."))
    return Period(first, last)
