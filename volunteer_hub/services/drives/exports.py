"""A plan on paper and in files: map data, printable route sheets, CSV and Excel exports."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import gettext as _
from openpyxl import Workbook
from openpyxl.styles import Font

from volunteer_hub.i18n import local_zone, localized
from volunteer_hub.labels import label
from volunteer_hub.models import Plan, Team, Visit, Volunteer
from volunteer_hub.phones import national_format
from volunteer_hub.services.intake.help_requests import effective_point
from volunteer_hub.services.messaging.notifications import address_of


def _point(visit: Visit) -> tuple[float, float] | None:
    return effective_point(visit.request)


def map_data(plan: Plan, colours: int, fmt: Callable[[datetime], str]) -> dict[str, Any]:
    """Return the plan as map layers: teams with ordered stops, and visits left out."""
    teams: dict[str, dict[str, Any]] = {}
    order = sorted({v.team for v in plan.visits if v.team}, key=lambda t: (len(t.code), t.code))
    for index, team in enumerate(order):
        start = None
        if team.meeting_point is not None:
            start = [team.meeting_point.lat, team.meeting_point.lng]
        teams[team.code] = {
            "code": team.code,
            "colour": index % colours,
            "start": start,
            "stops": [],
        }
    left_out = []
    for visit in sorted(plan.visits, key=lambda v: (v.shift_index or 0, v.seq or 0)):
        point = _point(visit)
        if point is None:
            continue
        item = {
            "reference": visit.request.reference,
            "lat": point[0],
            "lng": point[1],
            "priority": visit.request.priority,
        }
        if visit.team is None:
            left_out.append(
                item | {"reason": visit.unassigned_reason, "detail": visit.unassigned_detail}
            )
        else:
            teams[visit.team.code]["stops"].append(
                item
                | {
                    "seq": visit.seq,
                    "shift": visit.shift_index,
                    "time": fmt(visit.starts_at) if visit.starts_at else "",
                }
            )
    return {"teams": list(teams.values()), "left_out": left_out}


@dataclass
class SheetStop:
    """One stop of a route sheet."""

    visit: Visit
    services: list[str]
    bring: list[str]
    address: str


@dataclass
class RouteSheet:
    """What a team takes on the day."""

    team: Team
    members: list[Volunteer]
    stops: list[SheetStop] = field(default_factory=list)
    sketch: dict[str, Any] = field(default_factory=dict)


def _sketch(
    points: list[tuple[float, float]], start: tuple[float, float] | None, size: int = 260
) -> dict[str, Any]:
    """Project the stops into an SVG box (a sketch that prints without map tiles)."""
    every = ([start] if start else []) + points
    if not every:
        return {}
    lats = [p[0] for p in every]
    lngs = [p[1] for p in every]
    span = max(max(lats) - min(lats), max(lngs) - min(lngs), 0.002)
    pad = 18

    def project(p: tuple[float, float]) -> tuple[float, float]:
        x = pad + (p[1] - min(lngs)) / span * (size - 2 * pad)
        y = size - pad - (p[0] - min(lats)) / span * (size - 2 * pad)
        return round(x, 1), round(y, 1)

    stops = [project(p) for p in points]
    return {
        "size": size,
        "start": project(start) if start else None,
        "stops": stops,
        "path": " ".join(f"{x},{y}" for x, y in ([project(start)] if start else []) + stops),
    }


def route_sheets(plan: Plan) -> list[RouteSheet]:
    """Return one route sheet per team with visits, in team order."""
    sheets: dict[int, RouteSheet] = {}
    latest = datetime.max.replace(tzinfo=UTC)
    for visit in sorted(plan.visits, key=lambda v: (v.starts_at or latest, v.seq or 0)):
        if visit.team is None:
            continue
        sheet = sheets.setdefault(visit.team.id, RouteSheet(visit.team, list(visit.team.members)))
        services = [localized(s) for s in visit.request.services]
        bring = sorted({localized(s, "bring") for s in visit.request.services if s.bring_vi})
        sheet.stops.append(SheetStop(visit, services, bring, address_of(visit.request)))
    for sheet in sheets.values():
        start = None
        if sheet.team.meeting_point is not None:
            start = (sheet.team.meeting_point.lat, sheet.team.meeting_point.lng)
        points = [p for s in sheet.stops if (p := _point(s.visit)) is not None]
        sheet.sketch = _sketch(points, start)
    return sorted(sheets.values(), key=lambda s: (len(s.team.code), s.team.code))


def _safe_cell(value: Any) -> Any:
    """Keep spreadsheet programs from running a typed formula (=, +, -, @) as code."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _local_minute(moment: datetime, tz: ZoneInfo) -> datetime:
    """Return ``moment`` on the drive's clock, to the nearest whole minute, without a zone."""
    local = moment.astimezone(tz).replace(tzinfo=None)
    rounded = local.replace(second=0, microsecond=0)
    if local - rounded >= timedelta(seconds=30):
        rounded += timedelta(minutes=1)
    return rounded


def _rows(plan: Plan, tz: ZoneInfo | None = None) -> tuple[list[str], list[list[Any]]]:
    """Return the header and one row per visit; day, start and end are local date/time values."""
    tz = tz or local_zone()
    header = [
        _("Team"),
        _("Order"),
        _("Day"),
        _("Start"),
        _("End"),
        _("Code"),
        _("Priority"),
        _("Who needs help"),
        _("Phone"),
        _("Address"),
        _("Landmark"),
        _("Help wanted"),
        _("Notes for volunteers"),
        _("Status"),
        _("Why not planned"),
    ]
    rows = []
    order = sorted(
        plan.visits,
        key=lambda v: (
            v.team is None,
            len(v.team.code) if v.team else 0,
            v.team.code if v.team else "",
            v.shift_index or 0,
            v.seq or 0,
            v.request.reference,
        ),
    )
    for visit in order:
        request = visit.request
        start = _local_minute(visit.starts_at, tz) if visit.starts_at else None
        end = _local_minute(visit.ends_at, tz) if visit.ends_at else None
        # The reason in the reader's words; the planner's own detail (English, for
        # developers) only when there is no reason.
        why = (
            label("reason", visit.unassigned_reason)
            if visit.unassigned_reason
            else visit.unassigned_detail or ""
        )
        rows.append(
            [
                visit.team.code if visit.team else "",
                visit.seq or "",
                start.date() if start else "",
                start.time() if start else "",
                end.time() if end else "",
                request.reference,
                request.priority,
                request.beneficiary_name,
                national_format(request.phone),
                address_of(request, with_landmark=False),
                request.landmark or "",
                "; ".join(localized(s) for s in request.services),
                request.notes or "",
                label("visit_status", visit.status),
                why,
            ]
        )
    return header, rows


def _text(value: Any) -> Any:
    """Write a day as 2026-12-05 and a time as 14:07 (whole minutes) in a CSV cell."""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return value.strftime("%H:%M")
    return value


def plan_csv(plan: Plan) -> bytes:
    """Return the plan's visits as CSV (UTF-8 with a BOM, for Excel)."""
    header, rows = _rows(plan)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows([[_safe_cell(_text(v)) for v in row] for row in rows])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def plan_xlsx(plan: Plan) -> bytes:
    """Return the plan's visits as an Excel workbook."""
    header, rows = _rows(plan)
    book = Workbook()
    sheet = book.active
    sheet.title = f"v{plan.version}"
    sheet.append(header)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    day_col, start_col, end_col = 3, 4, 5
    for row in rows:
        sheet.append([_safe_cell(v) for v in row])
        line = sheet.max_row
        if row[day_col - 1]:
            sheet.cell(line, day_col).number_format = "dd/mm/yyyy"
        for col in (start_col, end_col):
            if row[col - 1]:
                sheet.cell(line, col).number_format = "hh:mm"
    for col, width in ((day_col, 12), (start_col, 8), (end_col, 8)):
        sheet.column_dimensions[sheet.cell(1, col).column_letter].width = width
    sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
