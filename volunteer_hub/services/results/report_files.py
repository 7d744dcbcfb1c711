"""The report as a youth union sends it: an Excel workbook (a summary sheet, a sheet with one
row per province and one with a row per commune) and a CSV of the same indicators per commune."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

from flask_babel import gettext as _
from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, Side
from openpyxl.worksheet.worksheet import Worksheet

from volunteer_hub.i18n import localized
from volunteer_hub.labels import label
from volunteer_hub.models import Service
from volunteer_hub.services.results.reports import OUTCOME_ORDER, Figures, Report


def indicators(f: Figures) -> list[tuple[str, object]]:
    """The report's lines: (what, how many), in the order a youth union report lists them."""
    share = f"{f.urgent_share * 100:.0f}%" if f.urgent_share is not None else "–"
    return [
        (_("Requests received"), f.requests_received),
        (_("Follow-up requests"), f.follow_ups_received),
        (_("Households planned"), f.planned),
        (_("Households served"), f.served),
        (_("Not at home"), f.not_home),
        (_("People helped"), f.people_helped),
        (_("Urgent requests (priority 4-5) received"), f.urgent_received),
        (_("Urgent requests served"), f.urgent_served),
        (_("Share of urgent requests served"), share),
        (
            _("Median wait of urgent requests (days)"),
            f.urgent_wait_days if f.urgent_wait_days is not None else "–",
        ),
        (_("Volunteers who went"), f.volunteers),
        (_("Volunteer hours"), round(f.volunteer_hours, 1)),
        (_("SMS sent"), f.sms_sent),
        (_("SMS delivered"), f.sms_delivered),
        (_("SMS failed"), f.sms_failed),
        (_("SMS cost (%(unit)s)", unit=f.sms_cost_unit or "–"), round(f.sms_cost, 2)),
    ]


_BOLD = Font(bold=True)
_THIN = Side(style="thin", color="999999")
_BOX = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)


def _table(sheet: Worksheet, header: list[str], rows: list[list[object]]) -> None:
    sheet.append(header)
    for cell in sheet[sheet.max_row]:
        cell.font = _BOLD
        cell.border = _BOX
    for row in rows:
        sheet.append(row)
        for cell in sheet[sheet.max_row]:
            cell.border = _BOX


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
    names = [name for name, _value in indicators(report.total)]
    provinces = book.create_sheet(_("Provinces")[:31])
    _heading(provinces, title, report, scope, fmt)
    _table(
        provinces,
        [_("Province code"), _("Province")] + names,
        [[p.code, p.name] + [value for _name, value in indicators(f)] for p, f in report.provinces],
    )
    provinces.column_dimensions["B"].width = 28
    rows = book.create_sheet(_("Communes")[:31])
    _heading(rows, title, report, scope, fmt)
    _table(
        rows,
        [_("Commune code"), _("Commune"), _("Province")] + names,
        [
            [c.code, c.name, c.province.name] + [value for _name, value in indicators(f)]
            for c, f in report.communes
        ],
    )
    rows.column_dimensions["B"].width = 28
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                cell.alignment = Alignment(wrap_text=True, vertical="top")
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def report_csv(report: Report) -> bytes:
    """Return the indicators per commune (and the total) as CSV, UTF-8 with a BOM for Excel."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    names = [name for name, _value in indicators(report.total)]
    writer.writerow([_("Commune code"), _("Commune")] + names)
    for commune, figures in report.communes:
        writer.writerow(
            [commune.code, commune.name] + [value for _name, value in indicators(figures)]
        )
    writer.writerow(["", _("Total")] + [value for _name, value in indicators(report.total)])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")
