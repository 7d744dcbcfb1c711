"""Coordinators enter, import and review requests and volunteers, and print QR posters."""

from __future__ import annotations

from typing import Any

import segno
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from volunteer_hub.extensions import db
from volunteer_hub.labels import label
from volunteer_hub.models import Hamlet, RequestSource, Skill, VolunteerStatus
from volunteer_hub.security import client_ip, coordinator_required
from volunteer_hub.services import access
from volunteer_hub.services.drives.setup import upcoming_blocks
from volunteer_hub.services.intake import import_jobs
from volunteer_hub.services.intake.help_requests import parse_request, submit_request
from volunteer_hub.services.intake.imports import (
    REQUEST_COLUMNS,
    VOLUNTEER_COLUMNS,
    ImportFileError,
    columns_for,
    import_rows,
    parse_upload,
    template_csv,
    template_xlsx,
)
from volunteer_hub.services.intake.volunteers import set_status, update_profile
from volunteer_hub.services.reference.catalogue import active_services
from volunteer_hub.services.reference.places import find_commune
from volunteer_hub.services.validation import FieldErrors, is_code, merge_errors
from volunteer_hub.web.intake import REQUEST_SHOWN, beside_fields, request_payload

bp = Blueprint("records", __name__)

STAFF_SOURCES = (RequestSource.PHONE, RequestSource.IN_PERSON)


@bp.before_request
@coordinator_required
def _signed_in_staff_only() -> None:
    """Every page here needs a signed-in admin or coordinator, and is private."""
    g.private_page = True


#: The staff entry form shows how the request came in and its priority, too.
STAFF_REQUEST_SHOWN = REQUEST_SHOWN | {"source", "priority"}


def _scoped_communes() -> list[Any]:
    return list(db.session.scalars(access.communes_for(current_user)))


def _hamlets(communes: list[Any]) -> dict[int, list[Hamlet]]:
    return {c.id: c.hamlets_in_order for c in communes}


def _entry_context(values: MultiDict[str, str], errors: dict[str, list[str]]) -> dict[str, Any]:
    communes = _scoped_communes()
    return {
        "values": values,
        "errors": errors,
        "communes": communes,
        "hamlets": _hamlets(communes),
        "services": active_services(db.session),
        "blocks": upcoming_blocks(db.session),
        "sources": [(s.value, label("source", s)) for s in STAFF_SOURCES],
        "staff": True,
        "honeypot": None,
    }


@bp.route("/requests/new", methods=["GET", "POST"])
def request_new():  # type: ignore[no-untyped-def]
    """Enter a request taken by phone or in person."""
    if request.method == "GET":
        return render_template("records/request_new.html", **_entry_context(MultiDict(), {}))
    payload = request_payload(request.form, {b.id: b for b in upcoming_blocks(db.session)})
    priority = (request.form.get("priority") or "").strip()
    if priority:
        payload["priority"] = priority
    source_value = request.form.get("source", "")
    errors: dict[str, list[str]] = {}
    if source_value not in {s.value for s in STAFF_SOURCES}:
        errors["source"] = [_("Choose how the request came in.")]
    try:
        data = parse_request(payload, staff=True, session=db.session, user=current_user)
        if errors:
            raise FieldErrors(errors)
        submitted = submit_request(
            db.session, data, source=RequestSource(source_value), user=current_user, ip=client_ip()
        )
    except FieldErrors as exc:
        db.session.rollback()
        shown = beside_fields(merge_errors(errors, exc.errors), STAFF_REQUEST_SHOWN)
        return render_template(
            "records/request_new.html", **_entry_context(request.form, shown)
        ), 422
    db.session.commit()
    flash(_("Request %(code)s saved.", code=submitted.request.reference), "success")
    return redirect(url_for("coordinator.request_detail", request_id=submitted.request.id))


def _upload() -> tuple[str, bytes] | None:
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return None
    return upload.filename, upload.read()


@bp.route("/requests/import", methods=["GET", "POST"])
def requests_import():  # type: ignore[no-untyped-def]
    """Import requests from a CSV or Excel file, reporting each row that fails."""
    return _import_page("requests")


@bp.route("/volunteers/import", methods=["GET", "POST"])
def volunteers_import():  # type: ignore[no-untyped-def]
    """Import volunteers from a CSV or Excel file, reporting each row that fails."""
    return _import_page("volunteers")


def _import_page(kind: str):  # type: ignore[no-untyped-def]
    """Read the file (within the caps); import it here if small, else queue it for the worker."""
    report = None
    error = None
    if request.method == "POST":
        upload = _upload()
        if upload is None:
            error = _("Choose a file to upload.")
        else:
            filename, data = upload
            try:
                rows = parse_upload(kind, filename, data)
                if len(rows) > import_jobs.sync_max_rows(current_app.config):
                    job = import_jobs.queue_import(
                        db.session,
                        kind,
                        filename,
                        data,
                        rows_total=len(rows),
                        user=current_user,
                        locale=str(get_locale() or "vi"),
                        ip=client_ip(),
                    )
                else:
                    job = None
                    report = import_rows(db.session, kind, rows, user=current_user, ip=client_ip())
            except ImportFileError as exc:
                db.session.rollback()
                error = str(exc)
            else:
                db.session.commit()
                if job is not None:
                    return redirect(url_for("records.import_job", job_id=job.id), 303)
    status = 422 if error else 200
    return render_template(
        "records/import.html",
        kind=kind,
        report=report,
        error=error,
        columns=columns_for(kind),
        jobs=import_jobs.recent_jobs(db.session, current_user, kind),
        sync_max_rows=import_jobs.sync_max_rows(current_app.config),
    ), status


@bp.get("/imports/<id:job_id>")
def import_job(job_id: int):  # type: ignore[no-untyped-def]
    """Show a queued import: its progress while the worker runs it, then its result."""
    job = import_jobs.visible_job(db.session, current_user, job_id)
    return render_template(
        "records/import_job.html",
        job=job,
        progress=import_jobs.progress_of(job),
        failure=import_jobs.failure_text(job),
        columns=columns_for(job.kind),
    )


@bp.get("/imports/<id:job_id>/progress.json")
def import_job_progress(job_id: int):  # type: ignore[no-untyped-def]
    """Report an import's progress (polled by its page)."""
    job = import_jobs.visible_job(db.session, current_user, job_id)
    return jsonify(import_jobs.progress_of(job))


@bp.get("/<any(requests, volunteers):kind>/import/template.<any(csv, xlsx):fmt>")
def import_template(kind: str, fmt: str):  # type: ignore[no-untyped-def]
    """Download the import template, with headers in the reader's language."""
    columns = REQUEST_COLUMNS if kind == "requests" else VOLUNTEER_COLUMNS
    name = f"mau-nhap-{'yeu-cau' if kind == 'requests' else 'tinh-nguyen-vien'}.{fmt}"
    if fmt == "csv":
        body, mimetype = template_csv(columns), "text/csv; charset=utf-8"
    else:
        body = template_xlsx(columns, _("Requests") if kind == "requests" else _("Volunteers"))
        mimetype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return Response(
        body, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


# --- volunteer review ---------------------------------------------------------------------


@bp.post("/volunteers/<id:volunteer_id>/status")
def volunteer_status(volunteer_id: int):  # type: ignore[no-untyped-def]
    """Approve, or deactivate, a volunteer."""
    volunteer = access.visible_volunteer(db.session, current_user, volunteer_id)
    try:
        status = VolunteerStatus(request.form.get("status", ""))
    except ValueError:
        abort(400)
    set_status(db.session, volunteer, status, user=current_user, ip=client_ip())
    db.session.commit()
    flash(_("Saved."), "success")
    return redirect(url_for("coordinator.volunteer_detail", volunteer_id=volunteer.id))


@bp.post("/volunteers/<id:volunteer_id>/profile")
def volunteer_profile(volunteer_id: int):  # type: ignore[no-untyped-def]
    """Change a volunteer's skills, travel mode, languages and visits per day."""
    volunteer = access.visible_volunteer(db.session, current_user, volunteer_id)
    skills = list(db.session.scalars(db.select(Skill).order_by(Skill.id)))
    payload: dict[str, Any] = {
        "skills": {
            s.code: int(request.form[f"skill_{s.code}"])
            for s in skills
            if request.form.get(f"skill_{s.code}") in ("1", "2", "3")
        },
        "travel_mode": request.form.get("travel_mode", ""),
        "max_visits_per_day": request.form.get("max_visits_per_day", ""),
        "languages": ["vi", *[c for c in request.form.getlist("languages") if c != "vi"]],
    }
    try:
        update_profile(db.session, volunteer, payload, user=current_user, ip=client_ip())
    except FieldErrors as exc:
        db.session.rollback()
        for messages in exc.errors.values():
            for message in messages:
                flash(message, "error")
        return redirect(url_for("coordinator.volunteer_detail", volunteer_id=volunteer.id)), 303
    db.session.commit()
    flash(_("Saved."), "success")
    return redirect(url_for("coordinator.volunteer_detail", volunteer_id=volunteer.id))


# --- QR posters ---------------------------------------------------------------------------


@bp.get("/posters")
def posters():  # type: ignore[no-untyped-def]
    """List the posters of the coordinator's communes and hamlets."""
    return render_template("records/posters.html", communes=_scoped_communes())


def _poster_target(code: str, hamlet_id: int | None) -> tuple[Any, Hamlet | None, str]:
    commune = find_commune(db.session, code) if is_code(code, max_length=8) else None
    if commune is None or not current_user.can_see_commune(commune.id):
        abort(404)
    hamlet = None
    if hamlet_id is not None:
        hamlet = db.session.get(Hamlet, hamlet_id)
        if hamlet is None or hamlet.commune_id != commune.id:
            abort(404)
    base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    path = url_for(
        "intake.request_form", commune=commune.code, hamlet_id=hamlet.id if hamlet else None
    )
    link = f"{base}{path}"
    return commune, hamlet, link


@bp.get("/posters/<code>")
@bp.get("/posters/<code>/<id:hamlet_id>")
def poster(code: str, hamlet_id: int | None = None):  # type: ignore[no-untyped-def]
    """Show a printable A4 poster whose QR code opens the form with the place filled in."""
    commune, hamlet, link = _poster_target(code, hamlet_id)
    return render_template("records/poster.html", commune=commune, hamlet=hamlet, link=link)


@bp.get("/posters/<code>/qr.svg")
@bp.get("/posters/<code>/<id:hamlet_id>/qr.svg")
def poster_qr(code: str, hamlet_id: int | None = None):  # type: ignore[no-untyped-def]
    """Return the poster's QR code as SVG."""
    _commune, _hamlet, link = _poster_target(code, hamlet_id)
    # Error correction "Q" survives a poster folded, wet or partly torn at the alley head.
    qr = segno.make(link, error="q", micro=False)
    svg = qr.svg_inline(scale=8, border=2, dark="#000", light="#fff")
    return Response(
        svg, mimetype="image/svg+xml", headers={"Cache-Control": "private, max-age=3600"}
    )
