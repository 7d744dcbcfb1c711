"""The admins' SMS pages: the outbox (console messages too), held messages, texts, opt-outs."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from volunteer_hub.extensions import db
from volunteer_hub.models import Message, MessageStatus, MessageTemplate, SmsOptOut
from volunteer_hub.phones import PhoneError, parse_phone
from volunteer_hub.security import admin_required, client_ip
from volunteer_hub.services.messaging import delivery, reconcile
from volunteer_hub.services.messaging import outbox as sms_outbox
from volunteer_hub.services.messaging import templates as sms_templates
from volunteer_hub.web.query import page_arg

bp = Blueprint("sms_admin", __name__, url_prefix="/admin/sms")

PER_PAGE = 50


@bp.before_request
@admin_required
def _admins_only() -> None:
    """Every page here needs a signed-in admin, and is private."""
    g.private_page = True


@bp.get("/")
def outbox():  # type: ignore[no-untyped-def]
    """List messages, newest first, with counts, held messages and failing numbers."""
    status = request.args.get("status") or None
    if status is not None and status not in {s.value for s in MessageStatus}:
        status = None
    phone_text = (request.args.get("phone") or "").strip()
    query = select(Message).order_by(Message.created_at.desc(), Message.id.desc())
    if status:
        query = query.where(Message.status == MessageStatus(status))
    if phone_text:
        try:
            query = query.where(Message.to_phone == parse_phone(phone_text).e164)
        except PhoneError as exc:
            flash(str(exc), "error")
    page = db.paginate(query, page=page_arg(), per_page=PER_PAGE, max_per_page=200)
    held = db.session.scalars(
        select(Message).where(Message.status == MessageStatus.HELD).order_by(Message.id).limit(50)
    ).all()
    return render_template(
        "sms/outbox.html",
        page=page,
        counts=sms_outbox.outbox_counts(db.session),
        held=held,
        failing=delivery.failing_numbers(db.session),
        status=status,
        phone=phone_text,
        statuses=[s.value for s in MessageStatus],
        backend=current_app.config.get("SMS_BACKEND"),
    )


@bp.post("/messages/<id:message_id>/decide")
def decide(message_id: int):  # type: ignore[no-untyped-def]
    """Settle a held message: it was sent, send it again, or drop it."""
    message = db.session.get(Message, message_id)
    if message is None:
        abort(404)
    decision = request.form.get("decision", "")
    try:
        reconcile.resolve_held(db.session, message, decision, user=current_user, ip=client_ip())
    except sms_outbox.MessagingError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(url_for(".outbox", status="held")), 303
    db.session.commit()
    flash(_("Saved."), "success")
    return redirect(url_for(".outbox", status="held")), 303


@bp.get("/templates")
def templates():  # type: ignore[no-untyped-def]
    """List every kind of message with its current texts."""
    edited = {(t.kind, t.locale): t for t in db.session.scalars(select(MessageTemplate))}
    rows = [
        {
            "kind": spec,
            "texts": {
                locale: edited[(spec.kind, locale)].body
                if (spec.kind, locale) in edited
                else sms_templates.DEFAULTS[spec.kind][locale]
                for locale in sms_templates.LOCALES
            },
            "edited": {locale: (spec.kind, locale) in edited for locale in sms_templates.LOCALES},
        }
        for spec in sms_templates.KINDS.values()
    ]
    return render_template("sms/templates.html", rows=rows)


def _template_spec(kind: str, locale: str) -> sms_templates.TemplateKind:
    spec = sms_templates.KINDS.get(kind)
    if spec is None or locale not in sms_templates.LOCALES:
        abort(404)
    return spec


@bp.route("/templates/<kind>/<locale>", methods=["GET", "POST"])
def template_edit(kind: str, locale: str):  # type: ignore[no-untyped-def]
    """Edit one text, preview it (encoding, parts, cost), save it or go back to the default."""
    spec = _template_spec(kind, locale)
    body = sms_templates.template_body(db.session, kind, locale)
    errors: list[str] = []
    status = 200
    if request.method == "POST":
        action = request.form.get("action", "preview")
        body = (request.form.get("body") or "").replace("\r\n", "\n")
        if action == "reset":
            sms_templates.reset_template(db.session, kind, locale)
            db.session.commit()
            flash(_("Back to the default text."), "success")
            return redirect(url_for(".template_edit", kind=kind, locale=locale)), 303
        errors = sms_templates.template_errors(kind, body)
        if action == "save" and not errors:
            sms_templates.save_template(db.session, kind, locale, body, user_id=current_user.id)
            db.session.commit()
            flash(_("Saved."), "success")
            return redirect(url_for(".template_edit", kind=kind, locale=locale)), 303
        status = 422 if errors else 200
    previews = {}
    if not errors:
        previews = {
            "unaccented": sms_templates.preview(kind, locale, body, unaccented=True),
            "accented": sms_templates.preview(kind, locale, body, unaccented=False),
        }
    return render_template(
        "sms/template_edit.html",
        spec=spec,
        locale=locale,
        body=body,
        default=sms_templates.DEFAULTS[kind][locale],
        errors=errors,
        previews=previews,
        placeholders={name: sms_templates.PLACEHOLDERS[name] for name in spec.placeholders},
    ), status


@bp.get("/opt-outs")
def opt_outs():  # type: ignore[no-untyped-def]
    """List the numbers that get no SMS, and why."""
    page = db.paginate(
        select(SmsOptOut).order_by(SmsOptOut.opted_out_at.desc()),
        page=page_arg(),
        per_page=PER_PAGE,
        max_per_page=200,
    )
    return render_template("sms/opt_outs.html", page=page)


@bp.post("/opt-outs")
def opt_out_change():  # type: ignore[no-untyped-def]
    """Add a number to the opt-outs (a person asked by phone) or let it receive SMS again."""
    try:
        phone = parse_phone(request.form.get("phone", "")).e164
    except PhoneError as exc:
        flash(str(exc), "error")
        return redirect(url_for(".opt_outs")), 303
    if request.form.get("action") == "remove":
        if sms_outbox.remove_opt_out(db.session, phone):
            flash(_("This number receives SMS again."), "success")
    else:
        note = (request.form.get("note") or "").strip()[:300] or None
        sms_outbox.opt_out(db.session, phone, source="coordinator", note=note)
        flash(_("This number receives no more SMS."), "success")
    db.session.commit()
    return redirect(url_for(".opt_outs")), 303
