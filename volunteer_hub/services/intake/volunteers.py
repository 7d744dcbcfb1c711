"""Volunteers signing up, and coordinators reviewing them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Annotated, Any, Literal

from flask_babel import gettext as _
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from volunteer_hub.models import (
    AvailabilitySlot,
    Commune,
    Hamlet,
    Skill,
    TravelMode,
    User,
    Volunteer,
    VolunteerAbsence,
    VolunteerAvailability,
    VolunteerKind,
    VolunteerSkill,
    VolunteerStatus,
    utcnow,
)
from volunteer_hub.models.people import ADULT_AGE, age_on
from volunteer_hub.phones import PhoneError, parse_phone
from volunteer_hub.services import audit
from volunteer_hub.services.intake.help_requests import CONSENT_VERSION
from volunteer_hub.services.reference.places import pin_errors, resolve_place
from volunteer_hub.services.validation import (
    FAR_AHEAD,
    FieldErrors,
    LanguageCode,
    Line,
    RecordId,
    Text,
    field_errors,
    is_code,
    merge_errors,
    parse_model,
    too_far_ahead,
)

#: Youngest age at which the movement takes volunteers (with a guardian's consent).
MIN_AGE = 14
MAX_AGE = 90


class AbsenceIn(BaseModel):
    """Dates away, inclusive."""

    model_config = ConfigDict(extra="forbid")

    first_day: date
    last_day: date

    @model_validator(mode="after")
    def _in_order(self) -> AbsenceIn:
        # Checked here, on the row, so a wrong row is reported even when another one is wrong.
        if self.last_day < self.first_day:
            raise ValueError(_("The last day must not be before the first day."))
        return self


class VolunteerIn(BaseModel):
    """A volunteer's sign-up, from the public form or a spreadsheet row."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    full_name: Line = Field(min_length=1, max_length=120)
    phone: Line = Field(min_length=1, max_length=32)
    kind: VolunteerKind
    school_or_unit: Line | None = Field(default=None, max_length=160)
    date_of_birth: date
    guardian_name: Line | None = Field(default=None, max_length=120)
    guardian_phone: Line | None = Field(default=None, max_length=32)
    guardian_consent: bool = False
    commune: Line = Field(min_length=1, max_length=8)
    hamlet_id: RecordId | None = None
    lat: float | None = Field(default=None, ge=-90, le=90)
    lng: float | None = Field(default=None, ge=-180, le=180)
    travel_mode: TravelMode
    skills: dict[Annotated[str, Field(max_length=40)], Annotated[int, Field(ge=1, le=3)]] = Field(
        min_length=1, max_length=20
    )
    languages: list[LanguageCode] = Field(
        default_factory=lambda: ["vi"], min_length=1, max_length=8
    )
    availability: list[AvailabilitySlot] = Field(min_length=1, max_length=5)
    away: list[AbsenceIn] = Field(default_factory=list, max_length=5)
    max_visits_per_day: int = Field(default=4, ge=1, le=12)
    notes: Text | None = Field(default=None, max_length=500)
    consent: Literal[True]


def parse_volunteer(
    payload: object,
    *,
    session: Session | None = None,
    user: User | None = None,
    today: date | None = None,
) -> VolunteerIn:
    """Validate a sign-up payload or raise FieldErrors.

    Every field is checked at once: the phones, the age and a minor's guardian, the pin and
    the dates away even when another field is wrong, and with a ``session`` the commune,
    hamlet and skills too (as ``user`` may choose them). Whether the phone is already a
    volunteer's is left to ``register_volunteer``.
    """
    today = today or utcnow().date()

    def rules(values: Mapping[str, Any]) -> dict[str, list[str]]:
        errors = _cross_field_errors(values, today)[0]
        if session is not None:
            errors = merge_errors(_errors_for_references(session, values, user)[3], errors)
        return errors

    return parse_model(VolunteerIn, payload, rules=rules)


def _skills_by_code(session: Session, codes: Iterable[str]) -> dict[str, Skill]:
    wellformed = [code for code in codes if is_code(code)]
    return {s.code: s for s in session.scalars(select(Skill).where(Skill.code.in_(wellformed)))}


def guardian_phone_error() -> str:
    """The message for a guardian's number that cannot receive our SMS."""
    return _(
        "Enter your parent or guardian's Vietnamese mobile number (10 digits starting 03, 05, "
        "07, 08 or 09): they get an SMS when you are given visits."
    )


def _cross_field_errors(
    values: Mapping[str, Any], today: date
) -> tuple[dict[str, list[str]], str | None, str | None, bool]:
    """Check what no field says alone, on the valid ``values`` (see ``Rules``).

    Return the errors, the phone and the guardian's phone in E.164, and whether the
    volunteer is under 18. An adult's guardian fields are ignored (the form hides them).
    """
    errors: dict[str, list[str]] = {}
    phone = guardian_phone = None
    if values.get("phone"):
        try:
            phone = parse_phone(values["phone"], mobile_only=True).e164
        except PhoneError as exc:
            errors["phone"] = [str(exc)]
    minor: bool | None = None  # not known while the date of birth is wrong
    if "date_of_birth" in values:
        age = age_on(values["date_of_birth"], today)
        if age < MIN_AGE or age > MAX_AGE:
            errors["date_of_birth"] = [
                _(
                    "Volunteers are between %(low)d and %(high)d years old.",
                    low=MIN_AGE,
                    high=MAX_AGE,
                )
            ]
        minor = age < ADULT_AGE
    if minor:
        if "guardian_name" in values and not values["guardian_name"]:
            errors["guardian_name"] = [_("Under 18: a parent or guardian's name is needed.")]
        if "guardian_phone" in values and not values["guardian_phone"]:
            errors["guardian_phone"] = [_("Under 18: a parent or guardian's phone is needed.")]
        if "guardian_consent" in values and not values["guardian_consent"]:
            errors["guardian_consent"] = [_("Under 18: a parent or guardian must agree.")]
    if minor is not False and values.get("guardian_phone"):
        # The guardian hears of each assignment by SMS: only a mobile number can get it.
        try:
            guardian_phone = parse_phone(values["guardian_phone"], mobile_only=True).e164
        except PhoneError:
            errors["guardian_phone"] = [guardian_phone_error()]
        else:
            if phone is not None and guardian_phone == phone:
                errors["guardian_phone"] = [
                    _("Give your parent or guardian's own number, not yours.")
                ]
    if "lat" in values and "lng" in values:
        errors.update(pin_errors(values["lat"], values["lng"]))
    for index, away in enumerate(values.get("away") or ()):
        if away.last_day > today + FAR_AHEAD:
            errors[f"away.{index}"] = [too_far_ahead()]
    return errors, phone, guardian_phone, bool(minor)


def _errors_for_references(
    session: Session, values: Mapping[str, Any], user: User | None
) -> tuple[Commune | None, Hamlet | None, dict[str, Skill], dict[str, list[str]]]:
    """Find the commune, hamlet and skills named by the valid ``values`` (see ``Rules``)."""
    commune = hamlet = None
    errors: dict[str, list[str]] = {}
    if "commune" in values:
        commune, hamlet, errors = resolve_place(
            session, values["commune"], hamlet_id=values.get("hamlet_id"), user=user
        )
    skills: dict[str, Skill] = {}
    if "skills" in values:
        skills = _skills_by_code(session, values["skills"])
        if len(skills) != len(values["skills"]):
            errors["skills"] = [_("Choose skills from the list.")]
    return commune, hamlet, skills, errors


class PhoneTaken(Exception):
    """A sign-up whose phone number a volunteer already has; ``volunteer`` is that one."""

    def __init__(self, volunteer: Volunteer) -> None:
        super().__init__("phone already registered")
        self.volunteer = volunteer


def register_volunteer(
    session: Session,
    data: VolunteerIn,
    *,
    source: str = "web",
    user: User | None = None,
    ip: str | None = None,
    now: datetime | None = None,
    today: date | None = None,
    reveal_taken: bool = True,
) -> Volunteer:
    """Store a new volunteer, pending approval and phone verification, or raise FieldErrors.

    A phone number that is already a volunteer's is a field error for coordinators
    (``reveal_taken``). On the public form it must not be: the other fields are checked as
    usual, and only when they are all right is PhoneTaken raised, so the page can answer
    exactly as for a new number.
    """
    now = now or utcnow()
    today = today or now.date()
    values = dict(data)
    errors, phone, guardian_phone, minor = _cross_field_errors(values, today)
    commune, hamlet, skills, refs = _errors_for_references(session, values, user)
    errors = merge_errors(refs, errors)
    taken = session.scalar(select(Volunteer).where(Volunteer.phone == phone)) if phone else None
    if taken is not None and reveal_taken:
        errors["phone"] = [
            _(
                "This phone number is already registered. "
                "Ask your coordinator to update your details."
            )
        ]
    if errors:
        raise FieldErrors(errors)
    if taken is not None:
        raise PhoneTaken(taken)
    assert commune is not None and phone is not None

    volunteer = Volunteer(
        full_name=data.full_name,
        phone=phone,
        kind=data.kind,
        school_or_unit=data.school_or_unit,
        date_of_birth=data.date_of_birth,
        guardian_name=data.guardian_name if minor else None,
        guardian_phone=guardian_phone if minor else None,
        guardian_consent_at=now if minor and data.guardian_consent else None,
        consent_at=now,
        consent_version=CONSENT_VERSION,
        home_commune=commune,
        home_hamlet=hamlet,
        home_lat=data.lat,
        home_lng=data.lng,
        travel_mode=data.travel_mode,
        languages=list(dict.fromkeys(data.languages)),
        max_visits_per_day=data.max_visits_per_day,
        status=VolunteerStatus.PENDING,
        source=source,
        notes=data.notes,
        created_at=now,
    )
    volunteer.skills = [
        VolunteerSkill(skill=skills[c], level=lvl) for c, lvl in data.skills.items()
    ]
    volunteer.availability = [
        VolunteerAvailability(slot=slot) for slot in dict.fromkeys(data.availability)
    ]
    volunteer.absences = [
        VolunteerAbsence(first_day=a.first_day, last_day=a.last_day) for a in data.away
    ]
    session.add(volunteer)
    session.flush()
    audit.record(
        session,
        action="create",
        entity="volunteer",
        entity_id=volunteer.id,
        user=user,
        actor=user.email if user else "public",
        commune_id=commune.id,
        ip=ip,
        detail={"source": source},
    )
    return volunteer


def set_status(
    session: Session,
    volunteer: Volunteer,
    status: VolunteerStatus,
    *,
    user: User,
    ip: str | None = None,
) -> None:
    """Approve or deactivate a volunteer, and audit it."""
    volunteer.status = status
    if status is VolunteerStatus.ACTIVE:
        volunteer.approved_at = utcnow()
        volunteer.approved_by_id = user.id
    audit.record(
        session,
        action="update",
        entity="volunteer",
        entity_id=volunteer.id,
        user=user,
        commune_id=volunteer.home_commune_id,
        ip=ip,
        detail={"status": status.value},
    )


class ReviewIn(BaseModel):
    """What a coordinator may change when reviewing a volunteer."""

    model_config = ConfigDict(extra="forbid")

    skills: dict[Annotated[str, Field(max_length=40)], Annotated[int, Field(ge=1, le=3)]] = Field(
        min_length=1, max_length=20
    )
    travel_mode: TravelMode
    max_visits_per_day: int = Field(ge=1, le=12)
    languages: list[LanguageCode] = Field(min_length=1, max_length=8)


def update_profile(
    session: Session, volunteer: Volunteer, payload: object, *, user: User, ip: str | None = None
) -> None:
    """Apply a coordinator's edits (skills, travel mode, visits per day, languages)."""
    try:
        data = ReviewIn.model_validate(payload)
    except ValidationError as exc:
        raise FieldErrors(field_errors(exc)) from None
    skills = _skills_by_code(session, data.skills)
    if len(skills) != len(data.skills):
        raise FieldErrors({"skills": [_("Choose skills from the list.")]})
    volunteer.skills = [
        VolunteerSkill(skill=skills[c], level=lvl) for c, lvl in data.skills.items()
    ]
    volunteer.travel_mode = data.travel_mode
    volunteer.max_visits_per_day = data.max_visits_per_day
    volunteer.languages = list(dict.fromkeys(data.languages))
    audit.record(
        session,
        action="update",
        entity="volunteer",
        entity_id=volunteer.id,
        user=user,
        commune_id=volunteer.home_commune_id,
        ip=ip,
        detail={"skills": data.skills, "travel_mode": data.travel_mode.value},
    )


def find_by_phone(session: Session, raw_phone: str) -> Volunteer | None:
    """Return the volunteer with that phone number, however it is typed."""
    try:
        phone = parse_phone(raw_phone, mobile_only=True).e164
    except PhoneError:
        return None
    return session.scalar(select(Volunteer).where(Volunteer.phone == phone))


def can_be_assigned(volunteer: Volunteer) -> bool:
    """Return True when the volunteer is approved and has verified their phone."""
    return volunteer.status is VolunteerStatus.ACTIVE and volunteer.phone_verified_at is not None
