"""The JSON API under /api/v1, for scripts and partner apps, with bearer tokens."""

from __future__ import annotations

import json

from flask import Blueprint, Response, abort, current_app, g, jsonify, request, url_for
from flask_babel import gettext as _
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError

from volunteer_hub.extensions import csrf, db, limiter
from volunteer_hub.i18n import local_zone
from volunteer_hub.models import (
    Drive,
    DriveRequest,
    DriveStatus,
    DriveVolunteer,
    InvitationStatus,
    Plan,
    PlanStatus,
    RequestSource,
    Role,
    Team,
    User,
    utcnow,
)
from volunteer_hub.security import client_ip
from volunteer_hub.services import access
from volunteer_hub.services.drives import planning
from volunteer_hub.services.drives.setup import DriveIn, parse_drive, save_drive
from volunteer_hub.services.intake import readback
from volunteer_hub.services.intake.help_requests import (
    HelpRequestIn,
    parse_request,
    submit_request,
)
from volunteer_hub.services.validation import FieldErrors, field_errors
from volunteer_hub.web import paging
from volunteer_hub.web.api_models import (
    DriveDetail,
    DrivePage,
    Error,
    Me,
    PlanDetail,
    PlannerProblem,
    PlanStarted,
    PlanStartIn,
    RequestCreated,
    RequestStatus,
    Summary,
)
from volunteer_hub.web.api_models import FieldErrors as FieldErrorsProblem
from volunteer_hub.web.conditional import conditional, etag_of, precondition_failed, stale, tagged
from volunteer_hub.web.idempotency import idempotent
from volunteer_hub.web.openapi import (
    NOT_FOUND,
    ConditionalChange,
    ConditionalRead,
    IdempotentPost,
    PageQuery,
    SummaryQuery,
    documented,
)
from volunteer_hub.web.problems import field_problem, is_api_request, problem
from volunteer_hub.web.query import PeriodError, parse_period
from volunteer_hub.web.tokens import api_rate_key, token_required

bp = Blueprint("api", __name__, url_prefix="/api/v1")
# Token-authenticated: no cookies are read here, so there is nothing for CSRF to forge.
csrf.exempt(bp)


def _api_limit() -> str:
    return current_app.config["RATELIMIT_API"]


# Each token has its own budget; anonymous calls share their address's (web/tokens.py).
limiter.limit(_api_limit, key_func=api_rate_key)(bp)


@bp.after_app_request
def _no_store(response: Response) -> Response:
    """Keep every /api/v1 answer (errors, 404s of unknown paths and 429s too) out of caches.

    The answers are per token; a shared proxy or a browser must never hand one to another
    caller. Registered on the app, as an unknown path or a 405 never reaches the blueprint.
    """
    if is_api_request():
        response.headers["Cache-Control"] = "no-store"
    return response


#: The answers to a conditional read of a single resource.
UNCHANGED = (None, "Unchanged since the ETag sent in If-None-Match; no body")
NOT_FOUND_ERROR = {code: (Error, text) for code, text in NOT_FOUND.items()}
TAGGED = {200: ["ETag"], 304: ["ETag"]}


@bp.get("/me")
@token_required()
@documented("getMe", {200: (Me, "The account")})
def me():  # type: ignore[no-untyped-def]
    """The account the token acts for."""
    user: User = g.api_user
    return jsonify(
        email=user.email,
        name=user.name,
        role=user.role.value,
        communes=[{"code": c.code, "name": c.name} for c in user.communes],
    )


def _parsed_json() -> object | None:
    """Return the body as JSON, or None when it is not JSON."""
    try:
        return request.get_json(silent=True)
    except RecursionError:  # "[[[[..." nested deeper than the parser goes: not a bug of ours
        return None


def json_body() -> object:
    """Return the request's JSON body, or answer 415/400 with a clear message."""
    if not request.is_json:
        abort(415)
    payload = _parsed_json()
    if payload is None:
        abort(400)
    return payload


@bp.post("/requests")
@token_required(Role.PARTNER, Role.COORDINATOR, Role.ADMIN)
@idempotent
@documented(
    "createRequest",
    {
        201: (RequestCreated, "Stored; the household's reference code"),
        400: (Error, "The body is not valid JSON, or a malformed Idempotency-Key"),
        409: (Error, "The first call with this Idempotency-Key is still running"),
        413: (Error, "The body is too large"),
        415: (Error, "The body is not JSON"),
        422: (
            Error,
            "Field errors (`errors`, in the language of Accept-Language), or an "
            "Idempotency-Key already used for another body",
        ),
    },
    json=HelpRequestIn,
    headers=IdempotentPost,
    response_headers={201: ["Location", "Idempotent-Replayed"]},
)
def create_request():  # type: ignore[no-untyped-def]
    """Submit a household's help request

    Partner apps (limited to intake), coordinators (their communes) and admins. The same
    validation as the public web form; the request is stored with status `new`. The same
    phone and address within 14 days is stored too, flagged as a possible duplicate. GET the
    `Location` to follow the request.
    """
    user: User = g.api_user
    try:
        data = parse_request(json_body(), staff=False, session=db.session, user=user)
        submitted = submit_request(
            db.session, data, source=RequestSource.API, user=user, ip=client_ip()
        )
    except FieldErrors as exc:
        db.session.rollback()
        return field_problem(exc.errors)
    record = submitted.request
    record.submitted_by_id = user.id
    db.session.commit()
    return (
        jsonify(
            reference=record.reference,
            status=record.status.value,
            priority=record.priority,
            possible_duplicate=submitted.duplicate_of is not None,
        ),
        201,
        {"Location": url_for(".request_detail", reference=record.reference)},
    )


@bp.get("/requests/<reference>")
@token_required(Role.PARTNER, Role.COORDINATOR, Role.ADMIN)
@documented(
    "getRequest",
    {200: (RequestStatus, "The request as its submitter may see it"), 304: UNCHANGED}
    | NOT_FOUND_ERROR,
    headers=ConditionalRead,
    response_headers=TAGGED,
)
def request_detail(reference: str):  # type: ignore[no-untyped-def]
    """What became of a request the token's account submitted

    Status, the planned day and block once a plan is published, and the outcome. Any request
    the account did not submit (coordinators: outside their communes) is 404, as is an unknown
    reference: a partner cannot probe for others' requests.
    """
    record = readback.readable_request(db.session, g.api_user, reference)
    if record is None:
        abort(404)
    return conditional(jsonify(readback.partner_view(db.session, record, tz=local_zone())))


@bp.get("/openapi.json")
def openapi():  # type: ignore[no-untyped-def]
    """Describe every API route (OpenAPI 3.1), generated from the routes and the models."""
    from volunteer_hub.web.openapi import build_spec

    return jsonify(build_spec(current_app._get_current_object()))  # type: ignore[attr-defined]


# --- drives and plans (coordinators' tokens) --------------------------------------------------

STAFF = (Role.COORDINATOR, Role.ADMIN)


def _plan_summary(plan: Plan) -> dict[str, object]:
    return {
        "id": plan.id,
        "version": plan.version,
        "status": plan.status.value,
        "published": plan.is_locked,
    }


@bp.get("/drives")
@token_required(*STAFF)
@documented(
    "listDrives",
    {
        200: (DrivePage, "Drives, newest first"),
        422: (FieldErrorsProblem, "A bad limit or cursor, or an unknown parameter"),
    },
    query=PageQuery,
    response_headers={200: ["Link"]},
)
def drives():  # type: ignore[no-untyped-def]
    """The drives the account may see (coordinators: their communes)

    A page at a time, newest first (keyset on id): follow `next` (or the `Link` header) until
    it is null; drives added meanwhile never shift the pages left.
    \f
    The plans are read as summaries (id, version, status, published): never their problem or
    plan JSON, which can be megabytes per plan.
    """
    user: User = g.api_user
    try:
        page = paging.parse_page()
    except FieldErrors as exc:
        return field_problem(exc.errors)
    query = access.drives_for(user).options(
        selectinload(Drive.communes), selectinload(Drive.blocks)
    )
    if page.before is not None:
        query = query.where(Drive.id < page.before)
    rows = list(db.session.scalars(query.order_by(Drive.id.desc()).limit(page.limit + 1)))
    shown = rows[: page.limit]
    plans: dict[int, list[dict[str, object]]] = {d.id: [] for d in shown}
    if shown:
        for plan in db.session.execute(
            select(Plan.id, Plan.drive_id, Plan.version, Plan.status, Plan.published_at)
            .where(Plan.drive_id.in_(list(plans)))
            .order_by(Plan.drive_id, Plan.version)
        ):
            plans[plan.drive_id].append(
                {
                    "id": plan.id,
                    "version": plan.version,
                    "status": plan.status.value,
                    "published": plan.published_at is not None,
                }
            )
    following = paging.next_url(".drives", page, [d.id for d in rows])
    response = jsonify(
        drives=[
            {
                "id": d.id,
                "name": d.name,
                "status": d.status.value,
                "first_day": d.first_day.isoformat() if d.first_day else None,
                "communes": [c.code for c in d.communes],
                "plans": plans[d.id],
            }
            for d in shown
        ],
        next=following,
    )
    return paging.add_link(response, following)


#: The drive fields a coordinator may change (``PATCH /drives/{id}``), as the web form's DriveIn.
DRIVE_FIELDS = (
    "name",
    "communes",
    "blocks",
    "meeting_points",
    "team_size",
    "unaccented_sms",
    "service_minutes",
    "notes",
)
#: The statuses in which a drive may still be changed (as on the web form).
EDITABLE = (DriveStatus.DRAFT, DriveStatus.PLANNING)


def _drive_fields(drive: Drive) -> dict[str, object]:
    """The drive's editable fields, in the shape ``PATCH`` takes (blocks in local time)."""
    tz = local_zone()
    blocks = []
    for block in drive.blocks:
        start, end = block.starts_at.astimezone(tz), block.ends_at.astimezone(tz)
        blocks.append(
            {
                "day": start.date().isoformat(),
                "start": start.strftime("%H:%M"),
                "end": end.strftime("%H:%M"),
            }
        )
    return {
        "name": drive.name,
        "communes": [c.code for c in drive.communes],
        "blocks": blocks,
        "meeting_points": [
            {"name": m.name, "address": m.address, "lat": m.lat, "lng": m.lng}
            for m in drive.meeting_points
        ],
        "team_size": drive.team_size,
        "unaccented_sms": drive.unaccented_sms,
        "service_minutes": {ds.service.code: ds.minutes for ds in drive.service_minutes},
        "notes": drive.notes,
    }


def _count(statement) -> int:  # type: ignore[no-untyped-def]
    return int(db.session.scalar(statement) or 0)


def _drive_response(drive: Drive) -> Response:
    """The drive as ``GET /drives/{id}`` answers it (its ETag is the hash of this body)."""
    fields = _drive_fields(drive)
    summaries = [
        {
            "id": row.id,
            "version": row.version,
            "status": row.status.value,
            "published": row.published_at is not None,
        }
        for row in db.session.execute(
            select(Plan.id, Plan.version, Plan.status, Plan.published_at)
            .where(Plan.drive_id == drive.id)
            .order_by(Plan.version)
        )
    ]
    published = [p for p in summaries if p["published"]]
    volunteers = select(func.count()).select_from(DriveVolunteer)
    volunteers = volunteers.where(DriveVolunteer.drive_id == drive.id)
    counts = {
        "requests": _count(
            select(func.count()).select_from(DriveRequest).where(DriveRequest.drive_id == drive.id)
        ),
        "volunteers_invited": _count(volunteers),
        "volunteers_accepted": _count(
            volunteers.where(DriveVolunteer.status == InvitationStatus.ACCEPTED)
        ),
        "teams": _count(
            select(func.count())
            .select_from(Team)
            .where(Team.drive_id == drive.id, Team.active.is_(True))
        ),
        "plans": len(summaries),
    }
    days = sorted({block["day"] for block in fields["blocks"]})  # type: ignore[attr-defined]
    return jsonify(
        id=drive.id,
        status=drive.status.value,
        editable=drive.status in EDITABLE,
        row_version=drive.row_version,
        days=days,
        **fields,
        current_plan=summaries[-1] if summaries else None,
        published_plan=published[-1] if published else None,
        counts=counts,
    )


@bp.get("/drives/<id:drive_id>")
@token_required(*STAFF)
@documented(
    "getDrive",
    {200: (DriveDetail, "The drive"), 304: UNCHANGED} | NOT_FOUND_ERROR,
    headers=ConditionalRead,
    response_headers=TAGGED,
)
def drive_detail(drive_id: int):  # type: ignore[no-untyped-def]
    """One drive: its fields, days, plans and counts"""
    drive = access.visible_drive(db.session, g.api_user, drive_id)
    return conditional(_drive_response(drive))


@bp.patch("/drives/<id:drive_id>")
@token_required(*STAFF)
@documented(
    "updateDrive",
    {
        200: (DriveDetail, "The drive as changed, with its new ETag"),
        400: (Error, "The body is not valid JSON"),
        412: (Error, "The ETag in If-Match is no longer current: read the drive again"),
        415: (Error, "The body is not JSON"),
        422: (
            FieldErrorsProblem,
            "Field errors (`_form` when the drive is published and can no longer change)",
        ),
        428: (Error, "No If-Match: read the drive first"),
    }
    | NOT_FOUND_ERROR,
    json=DriveIn,
    patch_of="DriveIn",
    headers=ConditionalChange,
    media_types=("application/json", "application/merge-patch+json"),
    response_headers={200: ["ETag"]},
    example={"name": "Chủ nhật số, đợt 2", "team_size": 2},
)
def update_drive(drive_id: int):  # type: ignore[no-untyped-def]
    """Change some of a drive's fields (draft or planning drives)

    A JSON merge patch of the fields `GET` shows, in the same shape (blocks in local time);
    the fields left out keep their value. Checked as the web form checks them. `If-Match`
    must hold the ETag last read: without it 428, stale 412. The answer is the drive with its
    new ETag.
    """
    user: User = g.api_user
    drive = access.visible_drive(db.session, user, drive_id)
    # What the body is comes first (415, 400, 422 for a body no drive could take, whatever
    # the ETag), then whether it applies to the drive as it is now (428, 412), then the
    # form's checks against the database (communes in scope, a drive not yet published).
    body = json_body()
    if not isinstance(body, dict):
        return field_problem({"_form": [_("Expected an object.")]})
    unknown = sorted(str(key) for key in body if key not in DRIVE_FIELDS)
    if unknown:
        return field_problem({name[:40]: [_("Unknown field.")] for name in unknown[:10]})
    merged = {**_drive_fields(drive), **body}
    try:
        # JSON's own types, as documented: no 0 for false, no "2" for 2 (the web form's
        # strings are converted by parse_drive, which this API shares).
        DriveIn.model_validate_json(json.dumps(merged), strict=True)
        data = parse_drive(merged)
    except ValidationError as exc:
        return field_problem(field_errors(exc))
    except FieldErrors as exc:
        return field_problem(exc.errors)
    refused = precondition_failed(etag_of(_drive_response(drive).get_data()))
    if refused is not None:
        return refused
    try:
        save_drive(
            db.session,
            data,
            user=user,
            tz=local_zone(),
            drive=drive,
        )
        # Always write the drive's row, so that its row_version guards the whole change (its
        # blocks and meeting points too) against a concurrent one committed since the read.
        drive.updated_at = utcnow()
        db.session.flush()
    except FieldErrors as exc:
        db.session.rollback()
        return field_problem(exc.errors)
    except StaleDataError:
        db.session.rollback()
        return stale()
    db.session.commit()
    return tagged(_drive_response(drive))


@bp.post("/drives/<id:drive_id>/plans")
@token_required(*STAFF)
@idempotent
@documented(
    "startPlan",
    {
        202: (PlanStarted, "Queued; poll the plan"),
        400: (Error, "A malformed Idempotency-Key"),
        409: (Error, "The first call with this Idempotency-Key is still running"),
        422: (
            Error,
            "A bad time_limit_s (with `errors`), the drive cannot be planned yet, or an "
            "Idempotency-Key already used for another body",
        ),
    }
    | NOT_FOUND_ERROR,
    json=PlanStartIn,
    body_required=False,
    headers=IdempotentPost,
    response_headers={202: ["Location", "Idempotent-Replayed"]},
)
def start_drive_plan(drive_id: int):  # type: ignore[no-untyped-def]
    """Start planning a drive in the background

    202 with the plan's id; poll `GET /plans/{plan_id}` (the `Location`) until it is done.
    """
    user: User = g.api_user
    drive = access.visible_drive(db.session, user, drive_id)
    body = _parsed_json() if request.data else {}
    if not isinstance(body, dict):
        return field_problem({"_form": [_("Expected an object.")]})
    limit = body.get("time_limit_s", current_app.config["PLAN_TIME_LIMIT_S"])
    if isinstance(limit, bool) or not isinstance(limit, (int, float)) or not 3 <= limit <= 600:
        return field_problem({"time_limit_s": [_("Enter a number of seconds from 3 to 600.")]})
    try:
        plan = planning.start_plan(
            db.session, drive, user=user, tz=local_zone(), time_limit_s=float(limit)
        )
    except planning.PlanningError as exc:
        db.session.rollback()
        return problem(422, str(exc))
    db.session.commit()
    location = url_for(".plan_detail", plan_id=plan.id)
    return (
        jsonify(id=plan.id, version=plan.version, status=plan.status.value, url=location),
        202,
        {"Location": location},
    )


@bp.get("/plans/<id:plan_id>")
@token_required(*STAFF)
@documented(
    "getPlan",
    {200: (PlanDetail, "The plan"), 304: UNCHANGED} | NOT_FOUND_ERROR,
    headers=ConditionalRead,
    response_headers=TAGGED,
)
def plan_detail(plan_id: int):  # type: ignore[no-untyped-def]
    """A plan's status and progress; once done, the plan (planner JSON, version 1)"""
    plan = access.visible_plan(db.session, g.api_user, plan_id)
    body: dict[str, object] = {
        **_plan_summary(plan),
        "drive_id": plan.drive_id,
        "progress": planning.progress_of(plan),
        "problem_url": url_for(".plan_problem", plan_id=plan.id),
    }
    if plan.status is PlanStatus.DONE and plan.result:
        body["plan"] = plan.result
    return conditional(jsonify(body))


@bp.get("/plans/<id:plan_id>/problem")
@token_required(*STAFF)
@documented(
    "getPlanProblem",
    {200: (PlannerProblem, "The problem"), 304: UNCHANGED} | NOT_FOUND_ERROR,
    headers=ConditionalRead,
    response_headers=TAGGED,
)
def plan_problem(plan_id: int):  # type: ignore[no-untyped-def]
    """The exact planner problem the plan solved (planner JSON, version 1)

    Recheck a plan with `python -m scheduling check PROBLEM.json PLAN.json`.
    """
    plan = access.visible_plan(db.session, g.api_user, plan_id)
    if not plan.problem:
        abort(404)
    return conditional(jsonify(plan.problem))


#: The query parameters GET /reports/summary knows besides the page's (``limit``, ``cursor``)
#: and ``lang`` (the messages' language, as everywhere); any other is refused.
SUMMARY_PARAMETERS = frozenset({"from", "to", "province", "commune"})


@bp.get("/reports/summary")
@token_required(*STAFF)
@documented(
    "getReportSummary",
    {
        200: (Summary, "The totals, every province, and a page of communes"),
        422: (
            FieldErrorsProblem,
            "A bad date, province, commune, limit or cursor, or an unknown parameter",
        ),
    },
    query=SummaryQuery,
    response_headers={200: ["Link"]},
)
def report_summary():  # type: ignore[no-untyped-def]
    """What was achieved over a period: the dashboard's totals

    The same figures as `GET /reports/export.xlsx` (signed in or with this token): the totals
    and every province of the scope in each answer, the communes a page at a time (`limit`,
    50 unless given, at most 200; ordered by id, descending, as every list). Follow `next`
    (or the `Link` header) until it is null; it keeps the period and place asked for.
    `province=` gives one province's communes.
    """
    from datetime import datetime

    from volunteer_hub.services.results.reports import build_report

    # A misspelt parameter (?commun=...) must not silently give every commune's figures.
    errors: dict[str, list[str]] = {}
    try:
        page = paging.parse_page(known=SUMMARY_PARAMETERS)
    except FieldErrors as exc:
        errors.update(exc.errors)
    try:
        period = parse_period(request.args, datetime.now(local_zone()).date())
    except PeriodError as exc:
        errors.setdefault(exc.field, []).append(str(exc))
    if errors:
        return field_problem(errors)
    user: User = g.api_user
    # The token's user's scope, as on the web report: a province or commune outside it is refused.
    province = (request.args.get("province") or "").strip() or None
    commune = (request.args.get("commune") or "").strip() or None
    mine = list(db.session.scalars(access.communes_for(user)))
    if province and not any(c.province.code == province for c in mine):
        return field_problem({"province": [_("This province is not one of yours.")]})
    chosen = next((c for c in mine if c.code == commune), None) if commune else None
    if commune and chosen is None:
        return field_problem({"commune": [_("This commune is not one of yours.")]})
    if province and chosen is not None and chosen.province.code != province:
        return field_problem({"commune": [_("This commune is not in the chosen province.")]})
    report = build_report(
        db.session,
        user,
        period,
        tz=local_zone(),
        commune_code=commune,
        province_code=province,
        trend=False,
    )
    # The page: keyset on the commune's id, descending, as the other lists.
    ordered = sorted(report.communes, key=lambda row: row[0].id, reverse=True)
    if page.before is not None:
        ordered = [row for row in ordered if row[0].id < page.before]
    rows = ordered[: page.limit + 1]
    # The next page is the same report: the period as resolved (a default "to" is today's
    # date, which must not move past midnight between two pages) and the place asked for.
    values: dict[str, object] = {"from": period.first.isoformat(), "to": period.last.isoformat()}
    for name, value in (("province", province), ("commune", commune)):
        if value:
            values[name] = value
    if request.args.get("lang"):
        values["lang"] = request.args["lang"]
    following = paging.next_url(".report_summary", page, [c.id for c, _f in rows], **values)
    response = jsonify(
        period={"from": period.first.isoformat(), "to": period.last.isoformat()},
        province=province,
        commune=commune,
        totals=report.total.as_json(),
        provinces=[{"code": p.code, "name": p.name, **f.as_json()} for p, f in report.provinces],
        commune_count=len(report.communes),
        communes=[{"code": c.code, "name": c.name, **f.as_json()} for c, f in rows[: page.limit]],
        next=following,
    )
    return paging.add_link(response, following)
