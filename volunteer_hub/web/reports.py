"""What was achieved: dashboards, the Excel and CSV reports, and volunteer hour certificates."""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from flask import Blueprint, Response, abort, g, render_template, request
from flask_babel import format_date, format_decimal
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import exists
from sqlalchemy.orm import selectinload

from volunteer_hub.extensions import db
from volunteer_hub.i18n import local_zone, localized
from volunteer_hub.labels import label
from volunteer_hub.models import Commune, Drive, Role, Service, TimeBlock, User
from volunteer_hub.security import client_ip
from volunteer_hub.services import access, audit
from volunteer_hub.services.overview import drives_query, first_day_column
from volunteer_hub.services.results.report_files import report_csv, report_xlsx
from volunteer_hub.services.results.reports import (
    OUTCOME_ORDER,
    Report,
    build_report,
    certificate_volunteer,
    drive_period,
    trend,
)
from volunteer_hub.services.validation import parse_id
from volunteer_hub.web import charts
from volunteer_hub.web.query import ReportQueryError, parse_period
from volunteer_hub.web.tokens import bearer_user

bp = Blueprint("reports", __name__)


class DriveChoice(NamedTuple):
    """A drive as the filter lists it."""

    id: int
    name: str
    first_day: datetime | None


def report_user() -> User:
    """The signed-in coordinator or admin, or the account of a bearer token."""
    user = bearer_user() if request.headers.get("Authorization") else None
    if user is None and current_user.is_authenticated:
        user = current_user._get_current_object()  # type: ignore[attr-defined]
    if user is None:
        abort(401)
    if user.role not in (Role.ADMIN, Role.COORDINATOR):
        abort(403)
    return user


def _id_arg(name: str) -> int | None:
    """Read an id from the query string; anything but a record id is not found (404)."""
    raw = (request.args.get(name) or "").strip()
    if not raw:
        return None
    record_id = parse_id(raw)
    if record_id is None:
        raise access.NotVisibleError
    return record_id


def _drive(user: User) -> Drive | None:
    """The drive of ``?drive=``, if the user may see it (else 404)."""
    drive_id = _id_arg("drive")
    return access.visible_drive(db.session, user, drive_id) if drive_id is not None else None


def _report(user: User, *, trend: bool = True) -> tuple[Report, str | None, Drive | None]:
    """Build the report the query string asks for; raise ReportQueryError when it is wrong.

    ``trend=False``: without the trend over time (the files and certificates show none)."""
    tz = local_zone()
    drive = _drive(user)
    period = parse_period(request.args, datetime.now(tz).date())
    if drive is not None:
        # A drive's figures are the drive's, whatever the dates: the period is its days.
        period = drive_period(drive, tz) or period
    commune = (request.args.get("commune") or "").strip() or None
    province = (request.args.get("province") or "").strip() or None
    mine = _communes(user)
    if commune and not any(c.code == commune for c in mine):
        raise ReportQueryError(_("This commune is not one of yours."))
    if province and not any(c.province.code == province for c in mine):
        raise ReportQueryError(_("This province is not one of yours."))
    report = build_report(
        db.session,
        user,
        period,
        tz=tz,
        commune_code=commune,
        drive_id=drive.id if drive is not None else None,
        province_code=province,
        trend=trend,
    )
    return report, commune, drive


#: Communes per page of the dashboard's commune table.
PAGE_SIZE = 50
#: Volunteers per page of the dashboard's hours table (all of them are in the CSV and Excel).
HOURS_PAGE_SIZE = 50
#: Drives the filter lists at most: beyond, only the period's, the latest first.
DRIVE_CHOICES = 200


def _page(count: int, name: str = "page", size: int = PAGE_SIZE) -> tuple[int, int]:
    """Return (page, pages) from ``?page=`` (or ``name``): a whole number from 1 to the last."""
    pages = max(1, -(-count // size))
    raw = (request.args.get(name) or "1").strip()
    if not raw.isascii() or not raw.isdigit() or len(raw) > 6 or not 1 <= int(raw) <= pages:
        raise ReportQueryError(
            _("There is no such page: choose one from 1 to %(n)s.", n=format_decimal(pages))
        )
    return int(raw), pages


def _places(user: User) -> dict[str, Any]:
    """The filter's choices: the provinces of the user's scope, and one province's communes.

    An admin (anyone whose communes span provinces) chooses a province before a commune, so
    the page never lists the whole country's communes.
    """
    mine = _communes(user)
    provinces = sorted({c.province_id: c.province for c in mine}.values(), key=lambda p: p.name)
    wanted = (request.args.get("province") or "").strip()
    commune = (request.args.get("commune") or "").strip()
    province = next((p for p in provinces if p.code == wanted), None)
    if province is None:
        chosen = next((c for c in mine if c.code == commune), None)
        province = chosen.province if chosen is not None else None
    if province is None and len(provinces) == 1:
        province = provinces[0]
    return {
        "provinces": provinces if len(provinces) > 1 else [],
        "province": province,
        "communes": [c for c in mine if province is not None and c.province_id == province.id],
    }


def _communes(user: User) -> list[Commune]:
    """The user's communes with their provinces, read once per request (one query for the
    communes, one for their provinces: never one per province)."""
    cached: dict[int, list[Commune]] = g.setdefault("report_communes", {})
    if user.id not in cached:
        query = access.communes_for(user).options(selectinload(Commune.province))
        cached[user.id] = list(db.session.scalars(query))
    return cached[user.id]


def _drive_choices(user: User) -> dict[str, Any]:
    """The drive filter's choices: (id, name, first day) rows, read in one query.

    A coordinator's few drives are all listed; past DRIVE_CHOICES (a country's year of
    drives), only the drives with a time block in the period asked for, the latest
    DRIVE_CHOICES of them, plus the drive chosen.
    """
    first_day = first_day_column()
    query = drives_query(user).with_only_columns(Drive.id, Drive.name, first_day.label("first"))
    rows = list(db.session.execute(query.limit(DRIVE_CHOICES + 1)))
    limited = len(rows) > DRIVE_CHOICES
    if limited:
        try:
            period = parse_period(request.args, datetime.now(local_zone()).date())
        except ReportQueryError:
            period = None
        if period is not None:
            start, end = period.bounds(local_zone())
            in_period = exists().where(
                TimeBlock.drive_id == Drive.id,
                TimeBlock.starts_at >= start,
                TimeBlock.starts_at < end,
            )
            rows = list(db.session.execute(query.where(in_period).limit(DRIVE_CHOICES)))
        else:
            rows = rows[:DRIVE_CHOICES]
        chosen = _chosen_drive_id()
        if chosen is not None and not any(r.id == chosen for r in rows):
            extra = db.session.execute(query.where(Drive.id == chosen)).first()
            if extra is not None:
                rows.append(extra)
    drives = [DriveChoice(r.id, r.name, r.first) for r in rows]
    return {"drives": drives, "drives_limited": limited}


def _chosen_drive_id() -> int | None:
    raw = (request.args.get("drive") or "").strip()
    return parse_id(raw) if raw else None


def _services() -> dict[str, Service]:
    return {s.code: s for s in db.session.scalars(db.select(Service))}


@bp.get("/reports")
def dashboard():  # type: ignore[no-untyped-def]
    """The dashboard: figures and charts for the user's communes over a period."""
    user = report_user()
    g.private_page = True
    choices = {**_places(user), **_drive_choices(user)}
    try:
        report, commune, drive = _report(user)
        # Many provinces and none chosen: the provinces first, each leading to its communes.
        by_province = bool(choices["provinces"]) and choices["province"] is None
        page, pages = _page(0 if by_province else len(report.communes))
        hours_page, hours_pages = _page(len(report.hours), "hours_page", HOURS_PAGE_SIZE)
    except ReportQueryError as exc:
        asked = (request.args.get("commune") or "").strip()
        return render_template(
            "reports/dashboard.html",
            report=None,
            error=str(exc),
            commune=asked,
            drive=None,
            **choices,
        ), 422
    services = _services()
    outcome_rows = []
    for code, counts in report.total.outcomes.items():
        name = localized(services[code]) if code in services else code
        outcome_rows.append((name, counts.get("done", 0) + counts.get("partly_done", 0)))
    rows = report.communes[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    # The chart takes every place of the scope (those with figures), the table one page.
    all_places = report.provinces if by_province else report.communes
    all_figures = [f for _c, f in all_places]
    context = {
        **choices,
        "report": report,
        "error": None,
        "commune": commune,
        "drive": drive,
        "by_province": by_province,
        "commune_rows": rows,
        "page": page,
        "pages": pages,
        "hours_rows": report.hours.top((hours_page - 1) * HOURS_PAGE_SIZE, HOURS_PAGE_SIZE),
        "hours_page": hours_page,
        "hours_pages": hours_pages,
        "hours_first": (hours_page - 1) * HOURS_PAGE_SIZE + 1,
        "outcome_chart": charts.bars(_("Services done or partly done"), outcome_rows),
        "commune_chart": charts.grouped(
            [place.short_name for place, _f in all_places],
            [
                (_("Households planned"), [float(f.planned) for f in all_figures]),
                (_("Households served"), [float(f.served) for f in all_figures]),
                (_("People helped"), [float(f.people_helped) for f in all_figures]),
            ],
        ),
        **_trend_chart(report),
        "sms_chart": charts.bars(
            _("SMS sent, delivered and failed"),
            [
                (_("Sent"), report.total.sms_sent),
                (_("Delivered"), report.total.sms_delivered),
                (_("Failed"), report.total.sms_failed),
            ],
            colour=charts.PALETTE[1],
        ),
        "outcome_labels": [(o, label("outcome", o)) for o in OUTCOME_ORDER],
        "services": services,
    }
    return render_template("reports/dashboard.html", **context)


def _trend_chart(report: Report) -> dict[str, Any]:
    """The trend over the period: households served and people helped per day, week or month."""
    unit, buckets = trend(report)
    if unit == "month":
        labels = [format_date(b.first, "MM/yyyy") for b in buckets]
    else:
        labels = [format_date(b.first, "dd/MM") for b in buckets]
    title = {
        "day": _("Per day"),
        "week": _("Per week (from Monday)"),
        "month": _("Per month"),
    }[unit]
    return {
        "trend_title": title,
        "trend_chart": charts.columns(
            title,
            labels,
            [
                (_("Households served"), [float(b.served) for b in buckets]),
                (_("People helped"), [float(b.people_helped) for b in buckets]),
            ],
        ),
        "trend_rows": list(zip(labels, buckets, strict=True)),
    }


def _scope_name(user: User, commune: str | None, report: Report, drive: Drive | None) -> str:
    province = (request.args.get("province") or "").strip()
    if commune and report.communes:
        scope = report.communes[0][0].name
    elif province and report.provinces:
        scope = report.provinces[0][0].name
    elif user.is_admin:
        scope = _("All communes")
    else:
        scope = ", ".join(c.name for c, _f in report.communes)
    if drive is None:
        return scope
    return _("%(scope)s; drive “%(name)s”", scope=scope, name=drive.name)


@bp.get("/reports/export.<any(xlsx, csv):fmt>")
def export(fmt: str):  # type: ignore[no-untyped-def]
    """The report as Excel (summary, one row per province, one row per commune) or CSV."""
    user = report_user()
    g.private_page = True
    try:
        report, commune, drive = _report(user, trend=False)
    except ReportQueryError as exc:
        abort(Response(str(exc), status=422, mimetype="text/plain"))
    # The file first, then the audit and its commit: a commit expires every record read, and
    # the rows' communes and provinces read after it were one query per commune (3,321
    # for a country, most of the export's time).
    name = f"bao-cao-{report.period.first.isoformat()}-{report.period.last.isoformat()}.{fmt}"
    if fmt == "csv":
        body, mimetype = report_csv(report), "text/csv; charset=utf-8"
    else:
        body = report_xlsx(
            report,
            _services(),
            _scope_name(user, commune, report, drive),
            lambda d: format_date(d, "dd/MM/yyyy"),
        )
        mimetype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    audit.record(
        db.session,
        action="export",
        entity="report",
        user=user,
        ip=client_ip(),
        detail={
            "from": report.period.first.isoformat(),
            "to": report.period.last.isoformat(),
            "commune": commune,
            "province": (request.args.get("province") or "").strip() or None,
            "drive": drive.id if drive else None,
            "format": fmt,
        },
    )
    db.session.commit()
    return Response(
        body, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


@bp.get("/volunteers/<id:volunteer_id>/certificate")
def certificate(volunteer_id: int):  # type: ignore[no-untyped-def]
    """A printable certificate of a volunteer's hours for a drive (or a period)."""
    user = report_user()
    g.private_page = True
    drive = _drive(user)
    volunteer = certificate_volunteer(db.session, user, volunteer_id, drive)
    try:
        report, _commune, _drive_again = _report(user, trend=False)
    except ReportQueryError as exc:
        from volunteer_hub.web.errors import render_error

        return render_error(422, str(exc))
    hours = report.hours.get(volunteer.id)
    audit.record(
        db.session,
        action="view",
        entity="certificate",
        entity_id=volunteer.id,
        user=user,
        commune_id=volunteer.home_commune_id,
        ip=client_ip(),
    )
    db.session.commit()
    return render_template(
        "reports/certificate.html",
        volunteer=volunteer,
        drive=drive,
        report=report,
        hours=hours[1] if hours else 0.0,
        visits=hours[2] if hours else 0,
        signer=user,
    )
