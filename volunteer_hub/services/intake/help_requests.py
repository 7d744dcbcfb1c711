"""Help requests coming in: from the public form, coordinators, imports and partner apps.

One schema (``HelpRequestIn``) validates every channel, so the web form, the API and a
spreadsheet row accept and refuse exactly the same things.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from flask_babel import gettext as _
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from volunteer_hub.models import (
    AgeGroup,
    Commune,
    Hamlet,
    HelpRequest,
    LocationSource,
    Province,
    RequestSource,
    RequestStatus,
    RequestWindow,
    Role,
    Service,
    Situation,
    User,
    utcnow,
)
from volunteer_hub.models.search import contains, fold
from volunteer_hub.phones import PhoneError, parse_phone
from volunteer_hub.services import audit
from volunteer_hub.services.reference.places import pin_errors, place_key, resolve_place
from volunteer_hub.services.validation import (
    FieldErrors,
    LanguageCode,
    Line,
    RecordId,
    Text,
    checked_moment,
    is_code,
    merge_errors,
    parse_model,
)

# No 0/O and no 1/I: codes are read out over the phone and copied by hand.
REFERENCE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
REFERENCE_LENGTH = 6
#: The same household again within this many days is flagged as a possible duplicate.
DUPLICATE_WINDOW = timedelta(days=14)

#: The wording of the consent text a person agrees to; bump it when the text changes.
CONSENT_VERSION = "2025-07"


class WindowIn(BaseModel):
    """A time the household prefers to be visited."""

    model_config = ConfigDict(extra="forbid")

    start: AwareDatetime
    end: AwareDatetime

    @field_validator("start", "end")
    @classmethod
    def _on_the_calendar(cls, value: datetime) -> datetime:
        return checked_moment(value)

    @model_validator(mode="after")
    def _in_order(self) -> WindowIn:
        # Checked here, on the window, so it is reported even when another field is wrong.
        if self.end <= self.start:
            raise ValueError(_("A time window must end after it starts."))
        return self


class HelpRequestIn(BaseModel):
    """A household's request for help at home, as any channel submits it."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "beneficiary_name": "Nguyễn Thị Lan",
                    "age_group": "75_plus",
                    "situations": ["elderly_alone"],
                    "contact_is_beneficiary": False,
                    "contact_name": "Trần Minh Anh",
                    "contact_relation": "cháu",
                    "phone": "0912 345 678",
                    "commune": "19789",
                    "house": "12 kiệt 45 Nguyễn Sinh Cung",
                    "landmark": "gần chợ",
                    "services": ["vneid_activate"],
                    "people_count": 1,
                    "notes": "Bà nghe kém, nói to và chậm.",
                    "consent": True,
                }
            ]
        },
    )

    beneficiary_name: Line = Field(min_length=1, max_length=120)
    age_group: AgeGroup | None = None
    situations: list[Situation] = Field(default_factory=list, max_length=6)
    contact_is_beneficiary: bool = True
    contact_name: Line | None = Field(default=None, max_length=120)
    contact_relation: Line | None = Field(default=None, max_length=80)
    phone: Line | None = Field(default=None, max_length=32)
    reach_note: Line | None = Field(default=None, max_length=300)
    commune: Line = Field(min_length=1, max_length=8, description="Official commune code")
    hamlet_id: RecordId | None = None
    hamlet_name: Line | None = Field(default=None, max_length=120)
    house: Line | None = Field(default=None, max_length=200)
    landmark: Line | None = Field(default=None, max_length=300)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lng: float | None = Field(default=None, ge=-180, le=180)
    services: list[Annotated[str, Field(max_length=40)]] = Field(min_length=1, max_length=20)
    people_count: int = Field(default=1, ge=1, le=20)
    windows: list[WindowIn] = Field(default_factory=list, max_length=10)
    languages: list[LanguageCode] = Field(default_factory=list, max_length=5)
    notes: Text | None = Field(default=None, max_length=1000)
    consent: Literal[True] = Field(description="The person agreed to the use of the data")


class StaffRequestIn(HelpRequestIn):
    """A request entered by a coordinator (by phone, in person) or imported: priority may be set."""

    priority: int | None = Field(default=None, ge=1, le=5)


@dataclass(frozen=True)
class Submitted:
    """What ``submit_request`` stored."""

    request: HelpRequest
    duplicate_of: HelpRequest | None


def new_reference(session: Session, choice: Callable[[str], str] = secrets.choice) -> str:
    """Return an unused reference code (about 10^9 possibilities; collisions are retried)."""
    for _attempt in range(20):
        code = "".join(choice(REFERENCE_ALPHABET) for _ in range(REFERENCE_LENGTH))
        if session.scalar(select(HelpRequest.id).where(HelpRequest.reference == code)) is None:
            return code
    raise RuntimeError("could not find a free reference code")  # pragma: no cover


def normalize_reference(text: str) -> str:
    """Return a typed reference as stored: upper case, without spaces or dashes."""
    return "".join(text.split()).upper().replace("-", "")


def suggest_priority(age_group: AgeGroup | None, situations: Iterable[str]) -> int:
    """Return 1-5 from who needs help: the most at risk of being left behind come first."""
    found = set(situations)
    score = 2
    if age_group is AgeGroup.ELDERLY:
        score += 1
    if Situation.ELDERLY_ALONE in found:
        score += 2
    if Situation.DISABILITY in found or Situation.ILLNESS in found:
        score += 1
    if Situation.REMOTE in found or Situation.NO_SMARTPHONE in found:
        score += 1
    if Situation.LOW_INCOME in found:
        score += 1
    return max(1, min(5, score))


def parse_request(
    payload: object,
    *,
    staff: bool = False,
    session: Session | None = None,
    user: User | None = None,
) -> HelpRequestIn:
    """Validate a payload (a dict from JSON, a form or a spreadsheet row) or raise FieldErrors.

    Every field is checked at once: the checks across fields (the phone, a way to reach
    the household, who asks, the pin, the time windows) run even when another field is wrong,
    and with a ``session`` so do the commune, hamlet and services (as ``user`` may choose them).
    """

    def rules(values: Mapping[str, Any]) -> dict[str, list[str]]:
        errors = _cross_field_errors(values)[0]
        if session is not None:
            errors = merge_errors(_errors_for_references(session, values, user)[3], errors)
        return errors

    return parse_model(StaffRequestIn if staff else HelpRequestIn, payload, rules=rules)


def find_duplicate(
    session: Session,
    *,
    commune_id: int,
    phone: str | None,
    house: str | None,
    beneficiary_name: str,
    now: datetime,
    hamlet_id: int | None = None,
    hamlet_name: str | None = None,
) -> HelpRequest | None:
    """Return an earlier request that is likely the same household, if any.

    Two kinds of evidence count, in the same commune: the same phone at the same house, and
    the same person's name at the same address whatever the phone (a grandmother entered
    twice, once with her grandson's number). The address is the house when both requests give
    one, else the hamlet (or both naming none). Names, houses and hamlets are compared folded
    (accents, case and spacing ignored). Only requests of the last ``DUPLICATE_WINDOW`` count.
    """
    since = now - DUPLICATE_WINDOW
    query = select(HelpRequest).where(
        HelpRequest.commune_id == commune_id,
        HelpRequest.status != RequestStatus.CANCELLED,
        HelpRequest.created_at >= since,
    )
    # The folded name is in search_text, so the database narrows the candidates down first.
    same_person = contains(HelpRequest.search_text, beneficiary_name)
    query = query.where(or_(HelpRequest.phone == phone, same_person) if phone else same_person)
    wanted_house = place_key(house or "")
    wanted_name = fold(beneficiary_name)
    wanted_hamlet = place_key(hamlet_name or "")
    for candidate in session.scalars(query.order_by(HelpRequest.created_at, HelpRequest.id)):
        their_house = place_key(candidate.house or "")
        if phone and candidate.phone == phone and their_house == wanted_house:
            return candidate
        if not wanted_name or fold(candidate.beneficiary_name) != wanted_name:
            continue
        if wanted_house and their_house:
            # Both give a house: it decides (two women of the same name live in one hamlet).
            if their_house == wanted_house:
                return candidate
            continue
        if hamlet_id is not None or candidate.hamlet_id is not None:
            if candidate.hamlet_id == hamlet_id:
                return candidate
        elif place_key(candidate.hamlet_name or "") == wanted_hamlet:
            return candidate
    return None


def _errors_for_references(
    session: Session, values: Mapping[str, Any], user: User | None
) -> tuple[Commune | None, Hamlet | None, list[Service], dict[str, list[str]]]:
    """Find the commune, hamlet and services named by the valid ``values`` (see ``Rules``)."""
    commune = hamlet = None
    errors: dict[str, list[str]] = {}
    if "commune" in values:
        commune, hamlet, errors = resolve_place(
            session,
            values["commune"],
            hamlet_id=values.get("hamlet_id"),
            hamlet_name=values.get("hamlet_name"),
            user=user,
        )
    services: list[Service] = []
    if "services" in values:
        codes = list(dict.fromkeys(values["services"]))
        wellformed = [code for code in codes if is_code(code)]
        services = list(
            session.scalars(
                select(Service).where(Service.code.in_(wellformed), Service.active.is_(True))
            )
        )
        if len(services) != len(codes):
            errors["services"] = [_("Choose the help you need from the list.")]
    return commune, hamlet, services, errors


def _cross_field_errors(
    values: Mapping[str, Any],
) -> tuple[dict[str, list[str]], str | None, bool]:
    """Check what no field says alone, on the valid ``values`` (see ``Rules``): the phone, a
    way to reach the household, who asks, the pin.

    Return the errors, the phone in E.164 and whether it can receive SMS.
    """
    errors: dict[str, list[str]] = {}
    phone = None
    is_mobile = False
    if values.get("phone"):
        try:
            parsed = parse_phone(values["phone"])
        except PhoneError as exc:
            errors["phone"] = [str(exc)]
        else:
            phone, is_mobile = parsed.e164, parsed.is_mobile
    elif "phone" in values and "reach_note" in values and not values["reach_note"]:
        errors["reach_note"] = [
            _(
                "Give a phone number, or tell us how to reach you "
                "(for example through the hamlet head)."
            )
        ]
    if (
        values.get("contact_is_beneficiary") is False
        and "contact_name" in values
        and not values["contact_name"]
    ):
        errors["contact_name"] = [_("Tell us who is asking.")]
    if "lat" in values and "lng" in values:
        errors.update(pin_errors(values["lat"], values["lng"]))
    return errors, phone, is_mobile


def submit_request(
    session: Session,
    data: HelpRequestIn,
    *,
    source: RequestSource,
    user: User | None = None,
    actor: str | None = None,
    ip: str | None = None,
    now: datetime | None = None,
) -> Submitted:
    """Store a validated request with status ``new``, or raise FieldErrors (nothing stored)."""
    now = now or utcnow()
    values = dict(data)
    cross, phone, is_mobile = _cross_field_errors(values)
    commune, hamlet, services, refs = _errors_for_references(session, values, user)
    errors = {**refs, **cross}
    if errors:
        raise FieldErrors(errors)
    assert commune is not None

    priority = getattr(data, "priority", None) or suggest_priority(
        data.age_group, [s.value for s in data.situations]
    )
    if data.lat is not None:
        location = LocationSource.PIN
    elif hamlet is not None and hamlet.lat is not None:
        location = LocationSource.HAMLET
    else:
        location = LocationSource.COMMUNE
    duplicate = find_duplicate(
        session,
        commune_id=commune.id,
        phone=phone,
        house=data.house,
        beneficiary_name=data.beneficiary_name,
        now=now,
        hamlet_id=hamlet.id if hamlet else None,
        hamlet_name=None if hamlet else data.hamlet_name,
    )
    record = HelpRequest(
        reference=new_reference(session),
        status=RequestStatus.NEW,
        source=source,
        priority=priority,
        beneficiary_name=data.beneficiary_name,
        age_group=data.age_group,
        situations=[s.value for s in data.situations],
        people_count=data.people_count,
        languages=list(dict.fromkeys(data.languages)),
        contact_is_beneficiary=data.contact_is_beneficiary,
        contact_name=None if data.contact_is_beneficiary else data.contact_name,
        contact_relation=None if data.contact_is_beneficiary else data.contact_relation,
        phone=phone,
        phone_is_mobile=is_mobile,
        reach_note=data.reach_note,
        commune=commune,
        hamlet=hamlet,
        hamlet_name=None if hamlet else data.hamlet_name,
        house=data.house,
        landmark=data.landmark,
        lat=data.lat,
        lng=data.lng,
        location_source=location,
        notes=data.notes,
        consent_at=now,
        consent_version=CONSENT_VERSION,
        possible_duplicate_of=duplicate,
        created_by_id=user.id if user is not None and user.role is not Role.PARTNER else None,
        created_at=now,
        status_changed_at=now,
    )
    record.services = sorted(services, key=lambda s: (s.sort_order, s.id))
    record.windows = [RequestWindow(starts_at=w.start, ends_at=w.end) for w in data.windows]
    session.add(record)
    session.flush()
    audit.record(
        session,
        action="create",
        entity="help_request",
        entity_id=record.id,
        user=user,
        actor=actor or (user.email if user else "public"),
        commune_id=commune.id,
        ip=ip,
        detail={
            "source": source.value,
            "possible_duplicate_of": duplicate.id if duplicate else None,
        },
    )
    return Submitted(record, duplicate)


def mark_not_duplicate(
    session: Session,
    record: HelpRequest,
    *,
    user: User | None,
    not_duplicate: bool = True,
    ip: str | None = None,
) -> None:
    """Record a coordinator's word on a duplicate flag (audited); the caller commits.

    ``not_duplicate=True`` says the request is another household than the one it resembles,
    so planning keeps both; ``False`` takes that back.
    """
    if record.possible_duplicate_of_id is None:
        raise FieldErrors({"not_duplicate": [_("This request is not flagged as a duplicate.")]})
    if record.not_duplicate == not_duplicate:
        return
    record.not_duplicate = not_duplicate
    session.flush()
    audit.record(
        session,
        action="update",
        entity="help_request",
        entity_id=record.id,
        user=user,
        commune_id=record.commune_id,
        ip=ip,
        detail={
            "not_duplicate": not_duplicate,
            "possible_duplicate_of": record.possible_duplicate_of_id,
        },
    )


def _served_province_ids() -> Select[tuple[int]]:
    """The provinces a coordinator works in: the public forms offer their communes."""
    from volunteer_hub.models import user_commune

    return select(Commune.province_id).join(user_commune, user_commune.c.commune_id == Commune.id)


def served_provinces(session: Session) -> list[Province]:
    """Return the provinces the public forms offer, by name.

    A province is served when one of its communes has a coordinator. Before anybody
    coordinates (a fresh install), every province with communes loaded is offered.
    """
    provinces = list(
        session.scalars(
            select(Province).where(Province.id.in_(_served_province_ids())).order_by(Province.name)
        )
    )
    if provinces:
        return provinces
    return list(
        session.scalars(
            select(Province)
            .where(Province.id.in_(select(Commune.province_id)))
            .order_by(Province.name)
        )
    )


def served_province(session: Session, code: str | None) -> Province | None:
    """Return the served province with this code, else None."""
    if not code:
        return None
    return next((p for p in served_provinces(session) if p.code == code), None)


def served_communes(session: Session, province: Province | None = None) -> list[Commune]:
    """Return the communes the public forms offer: those of one served province, by name.

    Without a province: every commune of every served province (imports and tests; the public
    pages always ask for one province, so a page never carries the whole country).
    """
    if province is not None:
        return list(
            session.scalars(
                select(Commune).where(Commune.province_id == province.id).order_by(Commune.name)
            )
        )
    ids = [p.id for p in served_provinces(session)]
    return list(
        session.scalars(select(Commune).where(Commune.province_id.in_(ids)).order_by(Commune.name))
    )


def served_commune(session: Session, code: str | None) -> Commune | None:
    """Return the commune with this code if the public forms offer it (a served province)."""
    if not code:
        return None
    commune = session.scalar(select(Commune).where(Commune.code == code))
    if commune is None or served_province(session, commune.province.code) is None:
        return None
    return commune


def effective_point(record: HelpRequest) -> tuple[float, float] | None:
    """Return where to go: the pin, else the hamlet, else the commune's centroid."""
    if record.lat is not None and record.lng is not None:
        return record.lat, record.lng
    if (
        record.hamlet is not None
        and record.hamlet.lat is not None
        and record.hamlet.lng is not None
    ):
        return record.hamlet.lat, record.hamlet.lng
    if record.commune.lat is not None and record.commune.lng is not None:
        return record.commune.lat, record.commune.lng
    return None


def lookup_reference(session: Session, text: str) -> HelpRequest | None:
    """Return the request with that reference code (spaces, dashes and case ignored)."""
    code = normalize_reference(text)
    if not code or len(code) > 12 or not set(code) <= set(REFERENCE_ALPHABET):
        return None
    return session.scalar(select(HelpRequest).where(HelpRequest.reference == code))
