"""The public forms: households ask for help, volunteers sign up and verify their phone."""

from __future__ import annotations

import logging
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

from volunteer_hub.extensions import db, limiter
from volunteer_hub.i18n import local_zone
from volunteer_hub.labels import label
from volunteer_hub.models import (
    AvailabilitySlot,
    Hamlet,
    RequestSource,
    Skill,
    TimeBlock,
    TravelMode,
    Volunteer,
    VolunteerKind,
)
from volunteer_hub.models.places import in_natural_order
from volunteer_hub.phones import PhoneError, parse_phone
from volunteer_hub.security import client_ip
from volunteer_hub.services.drives.setup import upcoming_blocks
from volunteer_hub.services.intake.help_requests import (
    parse_request,
    served_commune,
    served_communes,
    served_province,
    served_provinces,
    submit_request,
)
from volunteer_hub.services.intake.readback import household_status
from volunteer_hub.services.intake.volunteers import (
    PhoneTaken,
    find_by_phone,
    parse_volunteer,
    register_volunteer,
)
from volunteer_hub.services.messaging.outbox import is_opted_out
from volunteer_hub.services.reference.catalogue import active_services
from volunteer_hub.services.validation import FieldErrors, merge_errors, parse_id

bp = Blueprint("intake", __name__)
logger = logging.getLogger("volunteer_hub.intake")

#: The honeypot: a field people never see; a bot that fills it is refused.
HONEYPOT = "homepage"
TEXT_FIELDS = (
    "beneficiary_name",
    "age_group",
    "contact_name",
    "contact_relation",
    "phone",
    "reach_note",
    "commune",
    "hamlet_name",
    "house",
    "landmark",
    "notes",
)


#: Fields of the request form that show their own errors; ``windows`` sits by the times.
REQUEST_SHOWN = frozenset(
    (*TEXT_FIELDS, "province", "hamlet_id", "contact_is_beneficiary", "situations", "people_count")
    + ("lat", "services", "windows", "consent")
)
#: The same for the sign-up form; each row of dates away shows its own (``away.0``).
VOLUNTEER_SHOWN = frozenset(
    ("full_name", "phone", "kind", "school_or_unit", "date_of_birth", "guardian_name")
    + ("guardian_phone", "guardian_consent", "province", "commune", "hamlet_id", "lat")
    + ("travel_mode", "skills", "languages", "availability", "max_visits_per_day", "notes")
    + ("consent",)
)


def beside_fields(
    errors: dict[str, list[str]], shown: frozenset[str], *, rows: tuple[str, ...] = ()
) -> dict[str, list[str]]:
    """Key each error by the field that shows it, so every one is seen at once.

    A list's item goes to its list ("services.2": "services"), a row's part to its row
    ("away.0.first_day": "away.0"), the pin's longitude to the pin, and an error no field
    shows to the top of the form.
    """
    placed: dict[str, list[str]] = {}
    for key, messages in errors.items():
        head, *rest = key.split(".")
        if head in rows and rest:
            name = f"{head}.{rest[0]}"
        elif head == "lng":
            name = "lat"
        elif head in shown or head == "_form":
            name = head
        else:
            name = "_form"
        kept = placed.setdefault(name, [])
        kept.extend(m for m in messages if m not in kept)
    return placed


def _intake_limit() -> str:
    return current_app.config["RATELIMIT_INTAKE"]


@bp.before_request
def _small_bodies_only() -> None:
    """Public forms are small: refuse big bodies early (413) and keep pages out of caches."""
    request.max_content_length = current_app.config["PUBLIC_FORM_MAX_BYTES"]
    g.private_page = True


#: Longest number a form field passes on as typed; beyond it, it is too long to be one.
_MAX_NUMBER_CHARS = 20


def _optional_int(value: str | None) -> int | str | None:
    """Return a typed whole number as an int, anything else as text for the schema to refuse.

    Only ASCII digits are converted: ``"²".isdigit()`` is true but ``int("²")`` raises.
    """
    text = (value or "").strip()
    if not text:
        return None
    if text.isascii() and text.isdigit() and len(text) <= _MAX_NUMBER_CHARS:
        return int(text)
    return text[: _MAX_NUMBER_CHARS + 1]


def _optional_float(value: str | None) -> str | None:
    return value.strip().replace(",", ".") if value and value.strip() else None


def request_payload(form: MultiDict[str, str], blocks: dict[int, TimeBlock]) -> dict[str, Any]:
    """Turn the request form's fields into the intake schema's payload."""
    payload: dict[str, Any] = {}
    for name in TEXT_FIELDS:
        value = (form.get(name) or "").strip()
        if value:
            payload[name] = value
    payload["contact_is_beneficiary"] = form.get("contact_is_beneficiary", "yes") != "no"
    payload["situations"] = form.getlist("situations")
    payload["services"] = form.getlist("services")
    hamlet = _optional_int(form.get("hamlet_id"))
    if hamlet is not None:
        payload["hamlet_id"] = hamlet
    for name in ("lat", "lng"):
        value = _optional_float(form.get(name))
        if value is not None:
            payload[name] = value
    people = _optional_int(form.get("people_count"))
    payload["people_count"] = 1 if people is None else people
    windows = []
    for raw in form.getlist("block"):
        block_id = parse_id(raw)
        block = blocks.get(block_id) if block_id is not None else None
        if block is None:
            payload["windows"] = "unknown"  # reported as a wrong value
            break
        windows.append({"start": block.starts_at.isoformat(), "end": block.ends_at.isoformat()})
    else:
        payload["windows"] = windows
    if form.get("consent") == "yes":
        payload["consent"] = True
    return payload


#: The no-JavaScript step of the public forms: a button that sends the form back only to
#: fill the next list (a province's communes, a commune's hamlets), keeping what was typed.
PLACES_STEP = "places_step"


def place_choices(values: MultiDict[str, str]) -> dict[str, Any]:
    """The place lists a public form carries: served provinces, then one province's communes,
    then one commune's hamlets; never the communes of another province.

    The province is the one chosen, else the chosen commune's (a QR poster names only the
    commune), else the only one served.
    """
    provinces = served_provinces(db.session)
    wanted = values.get("province", "")
    province = next((p for p in provinces if p.code == wanted), None)
    commune = None
    if province is None:
        commune = served_commune(db.session, values.get("commune"))
        if commune is not None:
            province = commune.province
        elif len(provinces) == 1:
            province = provinces[0]
    communes = served_communes(db.session, province) if province is not None else []
    if commune is None:
        commune = next((c for c in communes if c.code == values.get("commune")), None)
    hamlets = (
        in_natural_order(
            db.session.scalars(db.select(Hamlet).where(Hamlet.commune_id == commune.id))
        )
        if commune is not None
        else []
    )
    return {
        "provinces": provinces,
        "province": province,
        "communes": communes,
        "commune": commune,
        "hamlets": hamlets,
        "places_step": PLACES_STEP,
    }


def province_errors(form: MultiDict[str, str]) -> dict[str, list[str]]:
    """Check the chosen province: one we serve, holding the chosen commune.

    The province field is optional (partner apps post the commune alone); when it is sent it
    must agree with the commune. That the hamlet is the commune's is checked with the commune.
    """
    code = (form.get("province") or "").strip()
    if not code:
        return {}
    province = served_province(db.session, code)
    if province is None:
        return {"province": [_("Choose a province from the list.")]}
    commune = served_commune(db.session, (form.get("commune") or "").strip())
    if commune is not None and commune.province_id != province.id:
        return {"commune": [_("Choose a commune of the chosen province.")]}
    return {}


def _request_context(values: MultiDict[str, str], errors: dict[str, list[str]]) -> dict[str, Any]:
    blocks = upcoming_blocks(db.session)
    return {
        "values": values,
        "errors": errors,
        **place_choices(values),
        "services": active_services(db.session),
        "blocks": blocks,
        "honeypot": HONEYPOT,
    }


def _places_step() -> bool:
    """True when the form came back only to fill the next place list (no JavaScript)."""
    return request.method == "POST" and PLACES_STEP in request.form


#: Query parameters a link may pre-fill (a QR poster: its commune and hamlet).
_PREFILL = ("province", "commune", "hamlet_id")


@bp.route("/request", methods=["GET", "POST"])
@limiter.limit(_intake_limit, methods=["POST"], exempt_when=_places_step)
def request_form():  # type: ignore[no-untyped-def]
    """Show and take the household help request form."""
    if request.method == "GET":
        # A QR poster opens the form with its commune and hamlet filled in.
        values = MultiDict({k: v for k, v in request.args.items() if k in _PREFILL})
        return render_template("intake/request.html", **_request_context(values, {}))
    if _places_step():
        return render_template("intake/request.html", **_request_context(request.form, {}))

    if request.form.get(HONEYPOT):
        current_app.logger.info("honeypot filled on /request from %s", client_ip())
        return render_template(
            "intake/request.html",
            **_request_context(
                request.form, {"_form": [_("Your request could not be sent. Please try again.")]}
            ),
        ), 422
    blocks = {b.id: b for b in upcoming_blocks(db.session)}
    place_errors = province_errors(request.form)
    try:
        data = parse_request(request_payload(request.form, blocks), session=db.session)
        if place_errors:
            raise FieldErrors(place_errors)
        submitted = submit_request(db.session, data, source=RequestSource.WEB, ip=client_ip())
    except FieldErrors as exc:
        db.session.rollback()
        errors = beside_fields(merge_errors(place_errors, exc.errors), REQUEST_SHOWN)
        return render_template("intake/request.html", **_request_context(request.form, errors)), 422
    db.session.commit()
    session["submitted_reference"] = submitted.request.reference
    return redirect(url_for(".request_thanks"))


@bp.get("/request/thanks")
def request_thanks():  # type: ignore[no-untyped-def]
    """Thank the household and give its reference code."""
    reference = session.get("submitted_reference")
    if not reference:
        return redirect(url_for(".request_form"))
    return render_template("intake/request_thanks.html", reference=reference)


def _status_limit() -> str:
    return str(current_app.config["RATELIMIT_STATUS"])


@bp.route("/request/status", methods=["GET", "POST"])
@limiter.limit(_status_limit, methods=["POST"])
def request_status():  # type: ignore[no-untyped-def]
    """Let a household see where its request stands: reference code and phone's last 4 digits."""
    values = MultiDict({"reference": request.args.get("reference", "")[:20]})
    if request.method == "GET":
        return render_template("intake/request_status.html", values=values, found=None)
    values = MultiDict(
        {
            "reference": request.form.get("reference", "")[:20],
            "phone_last4": request.form.get("phone_last4", "")[:10],
        }
    )
    found = household_status(
        db.session, values["reference"], values["phone_last4"], tz=local_zone()
    )
    if found is None:
        return render_template(
            "intake/request_status.html", values=values, found=None, not_found=True
        ), 404
    return render_template("intake/request_status.html", values=values, found=found)


# --- volunteers -------------------------------------------------------------------------------


def volunteer_payload(form: MultiDict[str, str], skills: list[Skill]) -> dict[str, Any]:
    """Turn the sign-up form's fields into the volunteer schema's payload."""
    payload: dict[str, Any] = {}
    for name in (
        "full_name",
        "phone",
        "kind",
        "school_or_unit",
        "date_of_birth",
        "guardian_name",
        "guardian_phone",
        "commune",
        "travel_mode",
        "notes",
    ):
        value = (form.get(name) or "").strip()
        if value:
            payload[name] = value
    hamlet = _optional_int(form.get("hamlet_id"))
    if hamlet is not None:
        payload["hamlet_id"] = hamlet
    for name in ("lat", "lng"):
        value = _optional_float(form.get(name))
        if value is not None:
            payload[name] = value
    payload["guardian_consent"] = form.get("guardian_consent") == "yes"
    chosen = {}
    for skill in skills:
        level = form.get(f"skill_{skill.code}", "0")
        if level in ("1", "2", "3"):
            chosen[skill.code] = int(level)
    payload["skills"] = chosen
    languages = form.getlist("languages")
    payload["languages"] = ["vi", *[code for code in languages if code != "vi"]]
    payload["availability"] = form.getlist("availability")
    away = []
    for first, last in zip(form.getlist("away_first"), form.getlist("away_last"), strict=False):
        if first.strip() or last.strip():
            away.append(
                {
                    "first_day": first.strip() or last.strip(),
                    "last_day": last.strip() or first.strip(),
                }
            )
    payload["away"] = away
    most = _optional_int(form.get("max_visits_per_day"))
    payload["max_visits_per_day"] = 4 if most is None else most
    if form.get("consent") == "yes":
        payload["consent"] = True
    return payload


def _skills() -> list[Skill]:
    return list(db.session.scalars(db.select(Skill).order_by(Skill.id)))


def _volunteer_context(values: MultiDict[str, str], errors: dict[str, list[str]]) -> dict[str, Any]:
    return {
        "values": values,
        "errors": errors,
        **place_choices(values),
        "skills": _skills(),
        "kinds": list(VolunteerKind),
        "modes": list(TravelMode),
        "slots": list(AvailabilitySlot),
        "honeypot": HONEYPOT,
        "languages": [
            (code, label("language", code))
            for code in ("hmn", "km", "tyz", "hre", "pac", "cma", "en")
        ],
    }


@bp.route("/volunteer", methods=["GET", "POST"])
@limiter.limit(_intake_limit, methods=["POST"], exempt_when=_places_step)
def volunteer_form():  # type: ignore[no-untyped-def]
    """Show and take the volunteer sign-up form, then send a code to verify the phone."""
    if request.method == "GET":
        values = MultiDict({k: v for k, v in request.args.items() if k in ("province", "commune")})
        return render_template("intake/volunteer.html", **_volunteer_context(values, {}))
    if _places_step():
        return render_template("intake/volunteer.html", **_volunteer_context(request.form, {}))
    if request.form.get(HONEYPOT):
        return render_template(
            "intake/volunteer.html",
            **_volunteer_context(
                request.form, {"_form": [_("Your sign-up could not be sent. Please try again.")]}
            ),
        ), 422
    place_errors = province_errors(request.form)
    try:
        data = parse_volunteer(volunteer_payload(request.form, _skills()), session=db.session)
        if place_errors:
            raise FieldErrors(place_errors)
        try:
            volunteer = register_volunteer(
                db.session, data, source="web", ip=client_ip(), reveal_taken=False
            )
        except PhoneTaken as taken:
            # Answer exactly as for a new number; the owner of the phone hears of it by SMS.
            db.session.rollback()
            volunteer = taken.volunteer
            _tell_the_owner(volunteer)
        else:
            _send_code(volunteer)
    except FieldErrors as exc:
        db.session.rollback()
        errors = merge_errors(place_errors, exc.errors)
        return render_template(
            "intake/volunteer.html",
            **_volunteer_context(
                request.form, beside_fields(errors, VOLUNTEER_SHOWN, rows=("away",))
            ),
        ), 422
    db.session.commit()
    # Only the number the visitor typed goes in the (readable) session cookie, never whether
    # or which volunteer has it.
    session.pop("verify_volunteer_id", None)
    session["verify_phone"] = volunteer.phone
    return redirect(url_for(".volunteer_verify"))


def _send_code(volunteer: Volunteer) -> None:
    from volunteer_hub.services.intake.phone_codes import PhoneCodeError, send_phone_code

    try:
        send_phone_code(db.session, volunteer)
    except PhoneCodeError as exc:
        raise FieldErrors({"code": [str(exc)]}) from None


def _send_code_quietly(volunteer: Volunteer) -> None:
    """Send a code to a number the visitor may not own; its problems are not shown to them.

    "A code was sent a moment ago" or "too many codes today" would tell a stranger that the
    number is a volunteer's, so the page says the same whether or not a code went out.
    """
    from volunteer_hub.services.intake.phone_codes import PhoneCodeError, send_phone_code

    try:
        with db.session.begin_nested():
            send_phone_code(db.session, volunteer)
    except PhoneCodeError as exc:
        logger.info("no code sent to volunteer %s: %s", volunteer.id, exc)


def _tell_the_owner(volunteer: Volunteer) -> None:
    """Someone signed up with a registered number: a code if unverified, else a notice."""
    from volunteer_hub.services.intake.phone_codes import OPTED_OUT, send_already_registered

    if is_opted_out(db.session, volunteer.phone):
        # What a new number that asked for no more SMS gets, too.
        raise FieldErrors({"code": [str(OPTED_OUT)]})
    if volunteer.phone_verified_at is None:
        _send_code_quietly(volunteer)
    else:
        send_already_registered(db.session, volunteer)


def _unverified(phone: str | None) -> Volunteer | None:
    """The volunteer still to verify with this phone number, or None."""
    if not phone:
        return None
    found = find_by_phone(db.session, phone)
    return found if found is not None and found.phone_verified_at is None else None


@bp.route("/volunteer/verify", methods=["GET", "POST"])
@limiter.limit(_intake_limit, methods=["POST"])
def volunteer_verify():  # type: ignore[no-untyped-def]
    """Ask for the code sent by SMS; also lets a volunteer ask for a new code by phone number.

    Every answer is the same whether or not the number is a volunteer's: the page shows the
    number typed and the code box, a wrong code and an unknown number read alike, and only
    the number (never a volunteer's id) is kept in the session.
    """
    from volunteer_hub.services.intake.phone_codes import verify_phone_code

    phone = session.get("verify_phone")
    phone = phone if isinstance(phone, str) else None
    errors: dict[str, list[str]] = {}

    if request.method == "POST":
        action = request.form.get("action", "verify")
        if action == "start":
            # A volunteer imported from a spreadsheet verifies here.
            try:
                typed = parse_phone(request.form.get("phone", ""), mobile_only=True).e164
            except PhoneError:
                typed = None
            if typed is not None:
                found = _unverified(typed)
                if found is not None:
                    _send_code_quietly(found)
                    db.session.commit()
                session["verify_phone"] = typed
            flash(_("If this number belongs to a volunteer, a code is on its way by SMS."), "info")
            return redirect(url_for(".volunteer_verify"))
        if phone is None:
            abort(400)
        volunteer = _unverified(phone)
        if action == "resend":
            if volunteer is not None:
                _send_code_quietly(volunteer)
                db.session.commit()
            flash(_("A new code is on its way by SMS."), "info")
            return redirect(url_for(".volunteer_verify"))
        code = "".join(ch for ch in request.form.get("code", "")[:64] if ch in "0123456789")[:8]
        if volunteer is not None and verify_phone_code(db.session, volunteer, code):
            db.session.commit()
            session.pop("verify_phone", None)
            return redirect(url_for(".volunteer_thanks"))
        db.session.commit()  # the failed attempt counts
        errors = {"code": [_("This code is not right, or it has expired.")]}

    status = 422 if errors else 200
    return render_template("intake/volunteer_verify.html", phone=phone, errors=errors), status


@bp.get("/volunteer/thanks")
def volunteer_thanks():  # type: ignore[no-untyped-def]
    """Thank the volunteer and say what happens next."""
    return render_template("intake/volunteer_thanks.html")
