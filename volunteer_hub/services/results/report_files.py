"""The report as a youth union sends it: an Excel workbook (a summary sheet, a sheet with one
row per province and one with a row per commune) and a CSV of the same indicators per commune."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from copy import copy

from flask_babel import gettext as _
from openpyxl import Workbook
from openpyxl.cell import Cell
from openpyxl.styles import Alignment, Border, Font, Side
from openpyxl.worksheet.worksheet import Worksheet

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


_BOLD = Font(bold=True)
_THIN = Side(style="thin", color="999999")
_BOX = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_WRAP = Alignment(wrap_text=True, vertical="top")


def _template(sheet: Worksheet, *, bold: bool) -> Cell:
    """A cell styled once: its style is copied to each table cell."""
    cell = Cell(sheet)
    if bold:
        cell.font = _BOLD
    cell.border = _BOX
    cell.alignment = _WRAP
    return cell


def _table(sheet: Worksheet, header: list[str], rows: list[list[object]]) -> None:
    # Each cell gets a copy of a template's style: assigning a Font or Border per cell hashes
    # it into the workbook's style list every time, which over a country's 3,321 communes
    # (and finding each new row through sheet.max_row) took tens of seconds.
    for values, template in [(header, _template(sheet, bold=True))] + [
        (row, body) for body in [_template(sheet, bold=False)] for row in rows
    ]:
        cells = []
        for value in values:
            cell = Cell(sheet, value=value)
            cell._style = copy(template._style)
            cells.append(cell)
        sheet.append(cells)


def _heading(
    sheet: Worksheet, title: str, report: Report, scope: str, fmt: Callable[[object], str]
) -> None:
    sheet.append([_("Ho Chi Minh Communist Youth Union")])
    sheet.append([title])
    sheet["A2"].font = Font(bold=True, size=14)
    sheet.append(
        [
            _(
                "From %(first)s to %(last)s",
                first=fmt(report.period.first),
                last=fmt(report.period.last),
            )
        ]
    )
    sheet.append([scope])
    sheet.append([])


def _figures_sheet(sheet: Worksheet, figures: Figures, services: dict[str, Service]) -> None:
    _table(
        sheet,
        ["#", _("Indicator"), _("Result")],
        [[i, name, value] for i, (name, value) in enumerate(indicators(figures), start=1)],
    )
    sheet.append([])
    header = [_("Service")] + [label("outcome", o) for o in OUTCOME_ORDER]
    rows = []
    for code, counts in sorted(figures.outcomes.items()):
        name = localized(services[code]) if code in services else code
        rows.append([name] + [counts.get(o, 0) for o in OUTCOME_ORDER])
    _table(sheet, header, rows)


def report_xlsx(
    report: Report, services: dict[str, Service], scope: str, fmt: Callable[[object], str]
) -> bytes:
    """Return the Excel report: a summary sheet, then one row per province, one per commune."""
    book = Workbook()
    summary = book.active
    summary.title = _("Summary")[:31]
    title = _("Report on digital help at home (Bình dân học vụ số)")
    _heading(summary, title, report, scope, fmt)
    _figures_sheet(summary, report.total, services)
    summary.column_dimensions["A"].width = 28
    summary.column_dimensions["B"].width = 44
    summary.column_dimensions["C"].width = 14
    # One row per province, then one row per commune, each on one sheet whatever the number
    # (a country has 34 provinces and 3,321 communes): one workbook of a few hundred kB.
    names = indicator_names(report.total)
    provinces = book.create_sheet(_("Provinces")[:31])
    _heading(provinces, title, report, scope, fmt)
    _table(
        provinces,
        [_("Province code"), _("Province")] + names,
        [[p.code, p.name] + indicator_values(f) for p, f in report.provinces],
    )
    provinces.column_dimensions["B"].width = 28
    rows = book.create_sheet(_("Communes")[:31])
    _heading(rows, title, report, scope, fmt)
    _table(
        rows,
        [_("Commune code"), _("Commune"), _("Province")] + names,
        [[c.code, c.name, c.province.name] + indicator_values(f) for c, f in report.communes],
    )
    rows.column_dimensions["B"].width = 28
    for sheet in book.worksheets:
        # The tables' cells are wrapped already; the heading lines above them are not.
        for row in sheet.iter_rows(max_row=5):
            for cell in row:
                cell.alignment = _WRAP
    buffer = io.BytesIO()
    book.save(buffer)
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
