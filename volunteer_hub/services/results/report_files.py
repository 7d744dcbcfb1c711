"""The report as a youth union sends it: an Excel workbook (a summary sheet, a sheet with one
row per province and one with a row per commune) and a CSV of the same indicators per commune."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable

import xlsxwriter
from flask_babel import gettext as _
from xlsxwriter.format import Format

from volunteer_hub.i18n import localized
from volunteer_hub.labels import label
from volunteer_hub.models import Service
from volunteer_hub.services.results.reports import OUTCOME_ORDER, Figures, Report


def indicator_values(f: Figures) -> list[object]:
    """The report's figures, in the order of :func:`indicator_names`."""
    share = f"{f.urgent_share * 100:.0f}%" if f.urgent_share is not None else "–"
    return [
        f.requests_received,
        f.follow_ups_received,
        f.planned,
        f.served,
        f.not_home,
        f.people_helped,
        f.urgent_received,
        f.urgent_served,
        share,
        f.urgent_wait_days if f.urgent_wait_days is not None else "–",
        f.volunteers,
        round(f.volunteer_hours, 1),
        f.sms_sent,
        f.sms_delivered,
        f.sms_failed,
        round(f.sms_cost, 2),
    ]


def indicator_names(f: Figures) -> list[str]:
    """The report's lines, in the order a youth union report lists them (translated once per
    report: per commune, gettext was most of a country's export)."""
    return [
        _("Requests received"),
        _("Follow-up requests"),
        _("Households planned"),
        _("Households served"),
        _("Not at home"),
        _("People helped"),
        _("Urgent requests (priority 4-5) received"),
        _("Urgent requests served"),
        _("Share of urgent requests served"),
        _("Median wait of urgent requests (days)"),
        _("Volunteers who went"),
        _("Volunteer hours"),
        _("SMS sent"),
        _("SMS delivered"),
        _("SMS failed"),
        _("SMS cost (%(unit)s)", unit=f.sms_cost_unit or "–"),
    ]


def indicators(f: Figures) -> list[tuple[str, object]]:
    """The report's lines: (what, how many)."""
    return list(zip(indicator_names(f), indicator_values(f), strict=True))


#: The cell formats of the workbook (XlsxWriter format properties).
_CELL = {"border": 1, "border_color": "#999999", "text_wrap": True, "valign": "top"}


class _Sheet:
    """One worksheet written row by row, top to bottom (XlsxWriter's constant-memory mode
    keeps only the current row in memory: each finished row goes to a temporary file)."""

    def __init__(self, book: xlsxwriter.Workbook, name: str, formats: dict[str, Format]) -> None:
        self.sheet = book.add_worksheet(name[:31])
        self.formats = formats
        self.row = 0

    def line(self, value: object = None, style: str = "plain") -> None:
        if value is not None:
            self.sheet.write(self.row, 0, value, self.formats[style])
        self.row += 1

    def table(self, header: list[str], rows: Iterable[list[object]]) -> None:
        self.sheet.write_row(self.row, 0, header, self.formats["header"])
        self.row += 1
        body = self.formats["body"]
        for values in rows:
            self.sheet.write_row(self.row, 0, values, body)
            self.row += 1


def _heading(
    sheet: _Sheet, title: str, report: Report, scope: str, fmt: Callable[[object], str]
) -> None:
    sheet.line(_("Ho Chi Minh Communist Youth Union"))
    sheet.line(title, "title")
    sheet.line(
        _(
            "From %(first)s to %(last)s",
            first=fmt(report.period.first),
            last=fmt(report.period.last),
        )
    )
    sheet.line(scope)
    sheet.line()


def _figures_sheet(sheet: _Sheet, figures: Figures, services: dict[str, Service]) -> None:
    sheet.table(
        ["#", _("Indicator"), _("Result")],
        [[i, name, value] for i, (name, value) in enumerate(indicators(figures), start=1)],
    )
    sheet.line()
    header = [_("Service")] + [label("outcome", o) for o in OUTCOME_ORDER]
    rows = []
    for code, counts in sorted(figures.outcomes.items()):
        name = localized(services[code]) if code in services else code
        rows.append([name] + [counts.get(o, 0) for o in OUTCOME_ORDER])
    sheet.table(header, rows)


def report_xlsx(
    report: Report, services: dict[str, Service], scope: str, fmt: Callable[[object], str]
) -> bytes:
    """Return the Excel report: a summary sheet, then one row per province, one per commune.

    Written with XlsxWriter in constant-memory mode, row after row: over a country's 3,321
    communes it takes half the time openpyxl did (docs/architecture.md, "Why these
    libraries"), and a larger scope never holds more than one row in memory.
    """
    buffer = io.BytesIO()
    # Text is written as text: a name that starts with "=" or looks like a URL is never made
    # a formula or a link.
    book = xlsxwriter.Workbook(
        buffer, {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False}
    )
    formats = {
        "plain": book.add_format({"text_wrap": True, "valign": "top"}),
        "title": book.add_format({"text_wrap": True, "valign": "top", "bold": True, "size": 14}),
        "header": book.add_format({**_CELL, "bold": True}),
        "body": book.add_format(_CELL),
    }
    title = _("Report on digital help at home (Bình dân học vụ số)")
    summary = _Sheet(book, _("Summary"), formats)
    # Column widths are set before the rows (constant-memory mode writes rows as they come).
    summary.sheet.set_column(0, 0, 28)
    summary.sheet.set_column(1, 1, 44)
    summary.sheet.set_column(2, 2, 14)
    _heading(summary, title, report, scope, fmt)
    _figures_sheet(summary, report.total, services)
    # One row per province, then one row per commune, each on one sheet whatever the number
    # (a country has 34 provinces and 3,321 communes): one workbook of a few hundred kB.
    names = indicator_names(report.total)
    provinces = _Sheet(book, _("Provinces"), formats)
    provinces.sheet.set_column(1, 1, 28)
    _heading(provinces, title, report, scope, fmt)
    provinces.table(
        [_("Province code"), _("Province")] + names,
        ([p.code, p.name] + indicator_values(f) for p, f in report.provinces),
    )
    communes = _Sheet(book, _("Communes"), formats)
    communes.sheet.set_column(1, 1, 28)
    _heading(communes, title, report, scope, fmt)
    communes.table(
        [_("Commune code"), _("Commune"), _("Province")] + names,
        ([c.code, c.name, c.province.name] + indicator_values(f) for c, f in report.communes),
    )
    book.close()
    return buffer.getvalue()


def report_csv(report: Report) -> bytes:
    """Return the indicators per commune (and the total) as CSV, UTF-8 with a BOM for Excel."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    names = indicator_names(report.total)
    writer.writerow([_("Commune code"), _("Commune")] + names)
    for commune, figures in report.communes:
        writer.writerow([commune.code, commune.name] + indicator_values(figures))
    writer.writerow(["", _("Total")] + indicator_values(report.total))
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")
