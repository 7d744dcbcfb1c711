"""The messages a visit causes: assignment, household confirmation, changes, cancellations,
thanks, a volunteer's and a minor's guardian's word about the day, and whole-drive broadcasts.

A published plan tells each volunteer of their day in one SMS per drive day (``notify_day``),
with one day link to all the visits of that day; households keep one SMS and link per visit.

Each function queues its messages in the caller's transaction, with an idempotency key that
names the visit, the recipient, the kind and the plan version (for example
``visit:123:assignment:vol45:v2``): publishing twice sends nothing twice, and a new version
sends again. Messages people act on carry a personal link.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Collection, Iterable
from datetime import date, datetime, timedelta
from typing import Any

from babel.dates import format_date
from sqlalchemy import select
from sqlalchemy.orm import Session

from volunteer_hub.models import (
    Drive,
    DriveRequest,
    DriveVolunteer,
    HelpRequest,
    InvitationStatus,
    Message,
    MessageStatus,
    Plan,
    User,
    Visit,
    VisitStatus,
    Volunteer,
    utcnow,
)
from volunteer_hub.phones import PhoneError, national_format, parse_phone
from volunteer_hub.services.messaging import links
from volunteer_hub.services.messaging.outbox import (
    MessagingError,
    cancel_queued,
    message_exists,
    queue_message,
)
from volunteer_hub.services.messaging.settings import SmsSettings, sms_settings
from volunteer_hub.services.messaging.templates import render_sms

#: Households are told a window, not a minute: the team may run early or late.
HOUSEHOLD_WINDOW = timedelta(minutes=60)
#: Changes this close to the visit go out even in quiet hours.
URGENT_WITHIN = timedelta(hours=24)
MAX_BROADCAST_CHARS = 480

_NOBODY = {"vi": "không", "en": "none"}


def recipient_locale(languages: Iterable[str] | None) -> str:
    """Return "vi" unless the person reads English and not Vietnamese."""
    found = list(languages or [])
    if "vi" in found or not found:
        return "vi"
    return "en" if "en" in found else "vi"


def _day(moment: datetime, locale: str, settings: SmsSettings) -> str:
    local = moment.astimezone(settings.timezone)
    return format_date(local.date(), "EEEE dd/MM", locale=locale)


def _clock(moment: datetime, settings: SmsSettings) -> str:
    return moment.astimezone(settings.timezone).strftime("%H:%M")


def _window(moment: datetime, settings: SmsSettings) -> str:
    local = moment.astimezone(settings.timezone)
    start = local.replace(minute=local.minute - local.minute % 15, second=0, microsecond=0)
    return f"{start:%H:%M}-{start + HOUSEHOLD_WINDOW:%H:%M}"


def address_of(request: HelpRequest, *, with_landmark: bool = True) -> str:
    """Return where the household is, as a volunteer reads it."""
    parts = [p for p in (request.house, request.hamlet_label, request.commune.name) if p]
    text = ", ".join(parts)
    if with_landmark and request.landmark:
        text = f"{text} ({request.landmark})"
    return text


def visit_values(
    visit: Visit, locale: str, settings: SmsSettings, *, volunteer: Volunteer | None = None
) -> dict[str, Any]:
    """Return the placeholders of a visit's messages, in the recipient's language."""
    request = visit.request
    when = visit.starts_at or visit.arrival_at
    members = list(visit.team.members) if visit.team else []
    partners = [m.full_name for m in members if volunteer is None or m.id != volunteer.id]
    return {
        "code": str(visit.id),
        "date": _day(when, locale, settings) if when else "",
        "time": _clock(when, settings) if when else "",
        "window": _window(when, settings) if when else "",
        "address": address_of(request),
        "landmark": request.landmark or "",
        "services": ", ".join(s.name(locale) for s in request.services),
        "partner": ", ".join(partners) or _NOBODY[locale],
        "team": ", ".join(m.first_name for m in members) or _NOBODY[locale],
        "drive": visit.plan.drive.name,
    }


def _drive_unaccented(visit: Visit) -> bool:
    return bool(visit.plan.drive.unaccented_sms)


def _is_soon(visit: Visit, now: datetime) -> bool:
    when = visit.starts_at or visit.arrival_at
    return when is not None and when - now < URGENT_WITHIN


def queue_about_visit(
    session: Session,
    visit: Visit,
    volunteer: Volunteer | None = None,
    *,
    kind: str,
    key: str,
    urgent: bool = False,
    send_after: datetime | None = None,
    with_link: bool = True,
    extra: dict[str, Any] | None = None,
    about_day: bool = False,
    now: datetime | None = None,
    settings: SmsSettings | None = None,
) -> Message | None:
    """Queue one message about a visit to one of its volunteers, or to its household.

    Each recipient gets their own personal link. ``about_day``: the message is about the
    volunteer's day, not this visit (no visit or household on the row, so what cancels or
    moves the visit's queue leaves it be). None when the household has no mobile; the
    message already queued under ``key``, if any, is returned as it is.
    """
    settings = sms_settings(settings)
    now = now or utcnow()
    request = visit.request
    if volunteer is None and (not request.can_receive_sms or not request.phone):
        return None
    if message_exists(session, key):
        return session.scalar(select(Message).where(Message.idempotency_key == key))
    locale = recipient_locale(volunteer.languages if volunteer else request.languages)
    values = visit_values(visit, locale, settings, volunteer=volunteer)
    if with_link:
        values["link"] = links.issue_link(
            session,
            purpose=links.VOLUNTEER_VISIT if volunteer else links.HOUSEHOLD_VISIT,
            visit=visit,
            volunteer_id=volunteer.id if volunteer else None,
            request_id=None if volunteer else request.id,
            now=now,
            settings=settings,
        ).url
    values.update(extra or {})
    body = render_sms(
        session, kind, locale, values, unaccented=_drive_unaccented(visit), settings=settings
    )
    return queue_message(
        session,
        key=key,
        kind=kind,
        to_phone=volunteer.phone if volunteer else request.phone,
        body=body,
        locale=locale,
        urgent=urgent,
        send_after=send_after or now,
        drive_id=visit.plan.drive_id,
        visit_id=None if about_day else visit.id,
        volunteer_id=volunteer.id if volunteer else None,
        request_id=None if about_day else visit.request_id,
    )


def _members(visit: Visit) -> list[Volunteer]:
    return list(visit.team.members) if visit.team else []


def _queue_to_everyone(
    session: Session,
    visit: Visit,
    *,
    kind: str,
    key: str,
    version: int | None = None,
    volunteers: bool = True,
    household: bool = True,
    skip: Collection[int] = (),
    **options: Any,
) -> list[Message]:
    """Queue ``{kind}_volunteer`` to each member of the team (but those in ``skip``) and
    ``{kind}_household`` to the household, keyed ``{key}:vol{id}`` and ``{key}`` (with
    ``:v{version}`` when given)."""
    suffix = f":v{version}" if version is not None else ""
    sent: list[Message | None] = []
    if volunteers:
        sent += [
            queue_about_visit(
                session,
                visit,
                volunteer,
                kind=f"{kind}_volunteer",
                key=f"{key}:vol{volunteer.id}{suffix}",
                **options,
            )
            for volunteer in _members(visit)
            if volunteer.id not in skip
        ]
    if household:
        sent.append(
            queue_about_visit(
                session, visit, kind=f"{kind}_household", key=f"{key}{suffix}", **options
            )
        )
    return [message for message in sent if message is not None]


def notify_assignment(
    session: Session,
    visit: Visit,
    *,
    version: int,
    now: datetime | None = None,
    settings: SmsSettings | None = None,
) -> list[Message]:
    """Tell each volunteer of the visit's team where and when to go, with their link."""
    return [
        queue_about_visit(
            session,
            visit,
            volunteer,
            kind="assignment",
            key=f"visit:{visit.id}:assignment:vol{volunteer.id}:v{version}",
            urgent=_is_soon(visit, now or utcnow()),
            now=now,
            settings=settings,
        )
        for volunteer in _members(visit)
    ]


def notify_household(
    session: Session,
    visit: Visit,
    *,
    version: int,
    now: datetime | None = None,
    settings: SmsSettings | None = None,
) -> Message | None:
    """Tell the household when the team comes, what to have ready, and how to answer."""
    return queue_about_visit(
        session,
        visit,
        kind="household_confirmation",
        key=f"visit:{visit.id}:household:v{version}",
        urgent=_is_soon(visit, now or utcnow()),
        now=now,
        settings=settings,
    )


def notify_change(
    session: Session,
    visit: Visit,
    *,
    version: int,
    replaces: Visit | None = None,
    household: bool = True,
    volunteers: bool = True,
    now: datetime | None = None,
    settings: SmsSettings | None = None,
) -> list[Message]:
    """Tell the team and the household that the visit moved; drop the old visit's queue.

    ``replaces`` is the same household's visit in the previous plan version: what is still
    queued for it (reminders, an unsent assignment) is cancelled.
    """
    now = now or utcnow()
    if replaces is not None:
        cancel_queued(session, visit_id=replaces.id, reason="replaced")
    urgent = _is_soon(visit, now) or (replaces is not None and _is_soon(replaces, now))
    return _queue_to_everyone(
        session,
        visit,
        kind="change",
        key=f"visit:{visit.id}:change",
        version=version,
        household=household,
        volunteers=volunteers,
        urgent=urgent,
        now=now,
        settings=settings,
    )


def notify_cancellation(
    session: Session,
    visit: Visit,
    *,
    version: int,
    household: bool = True,
    volunteers: bool = True,
    skip: Collection[int] = (),
    now: datetime | None = None,
    settings: SmsSettings | None = None,
) -> list[Message]:
    """Tell the team (and the household) that the visit is off; drop its queued messages.

    Volunteers whose ids are in ``skip`` (those who declined it) are not told again.
    """
    now = now or utcnow()
    cancel_queued(session, visit_id=visit.id, reason="visit_cancelled")
    return _queue_to_everyone(
        session,
        visit,
        kind="cancellation",
        key=f"visit:{visit.id}:cancel",
        version=version,
        volunteers=volunteers,
        household=household,
        skip=skip,
        urgent=_is_soon(visit, now),
        with_link=False,
        now=now,
        settings=settings,
    )


def notify_thanks(
    session: Session,
    visit: Visit,
    *,
    now: datetime | None = None,
    settings: SmsSettings | None = None,
) -> Message | None:
    """Thank the household, with a feedback link (volunteers: ``notify_day_thanks``)."""
    return queue_about_visit(
        session,
        visit,
        kind="thanks_household",
        key=f"visit:{visit.id}:thanks",
        now=now,
        settings=settings,
    )


def thanks_key(drive_id: int, volunteer_id: int, day: date) -> str:
    """The key of a volunteer's thanks for a drive day: one, whatever the plan version."""
    return f"drive:{drive_id}:vol{volunteer_id}:{day.isoformat()}:thanks"


def notify_day_thanks(
    session: Session,
    volunteer: Volunteer,
    day: date,
    visits: list[Visit],
    *,
    drive: Drive,
    now: datetime | None = None,
    settings: SmsSettings | None = None,
) -> Message | None:
    """Thank a volunteer for her day, once, with the day link where she reports each visit.

    ``visits`` are the day's visits she went to, in order (the first names the place). None
    when she has no visit that day or no phone.
    """
    settings = sms_settings(settings)
    now = now or utcnow()
    if not visits or not volunteer.phone:
        return None
    key = thanks_key(drive.id, volunteer.id, day)
    if message_exists(session, key):
        return session.scalar(select(Message).where(Message.idempotency_key == key))
    day_link = links.issue_day_link(
        session, drive=drive, volunteer_id=volunteer.id, day=day, now=now, settings=settings
    )
    return queue_about_visit(
        session,
        visits[0],
        volunteer,
        kind="thanks_volunteer",
        key=key,
        with_link=False,
        extra={
            "count": str(len(visits)),
            "place": _place(visits[0].request),
            "date": format_date(day, "EEEE dd/MM", locale=recipient_locale(volunteer.languages)),
            "link": day_link.url,
        },
        about_day=True,
        now=now,
        settings=settings,
    )


# --- a volunteer's day -----------------------------------------------------------------------

#: What a volunteer hears of a drive day: its visits, that they changed, or that none is left.
DAY_KINDS = ("day_assignment", "day_change", "day_cancellation")
_DAY_KEY_PART = {"day_assignment": "assign", "day_change": "change", "day_cancellation": "cancel"}
_DAY_KEY = re.compile(
    r"^drive:(?P<drive>\d+):vol(?P<volunteer>\d+):(?P<day>\d{4}-\d{2}-\d{2}):day-"
    r"(?:assign|change|cancel):v(?P<version>\d+)$"
)


def day_key(drive_id: int, volunteer_id: int, day: date, kind: str, version: int) -> str:
    """The idempotency key of a volunteer's day message: drive, volunteer, day, plan version."""
    return (
        f"drive:{drive_id}:vol{volunteer_id}:{day.isoformat()}:day-{_DAY_KEY_PART[kind]}:v{version}"
    )


def parse_day_key(key: str) -> tuple[int, int, date, int] | None:
    """Return (drive, volunteer, day, version) of a day message's key, None for other keys."""
    found = _DAY_KEY.match(key or "")
    if found is None:
        return None
    return (
        int(found["drive"]),
        int(found["volunteer"]),
        date.fromisoformat(found["day"]),
        int(found["version"]),
    )


def _place(request: HelpRequest) -> str:
    """Where a visit is, short for an SMS: the house and hamlet (or commune)."""
    parts = [p for p in (request.house, request.hamlet_label or request.commune.name) if p]
    return ", ".join(parts)


def day_values(
    visits: list[Visit], day: date, locale: str, settings: SmsSettings, *, drive: Drive
) -> dict[str, Any]:
    """Return the placeholders of a volunteer's day SMS (``visits`` may be empty)."""
    ordered = sorted(visits, key=lambda v: (v.starts_at or v.arrival_at, v.id))
    first = ordered[0] if ordered else None
    when = (first.starts_at or first.arrival_at) if first is not None else None
    return {
        "date": format_date(day, "EEEE dd/MM", locale=locale),
        "count": str(len(ordered)),
        "time": _clock(when, settings) if when else "",
        "place": _place(first.request) if first is not None else "",
        "drive": drive.name,
    }


def _written_for_day(
    session: Session, drive: Drive, volunteer: Volunteer, kinds: Collection[str], prefix: str
) -> list[Message]:
    """The messages of ``kinds`` about ``volunteer``'s day (their keys start with ``prefix``)
    still waiting or already told, newest first: what a new day or guardian SMS follows."""
    return list(
        session.scalars(
            select(Message)
            .where(
                Message.drive_id == drive.id,
                Message.volunteer_id == volunteer.id,
                Message.kind.in_(kinds),
                Message.idempotency_key.startswith(prefix, autoescape=True),
                Message.status.in_([MessageStatus.QUEUED, *_TOLD]),
            )
            .order_by(Message.id.desc())
        )
    )


def _told_of_day(
    session: Session, drive: Drive, volunteer: Volunteer, day: date, settings: SmsSettings
) -> tuple[list[Message], bool]:
    """Return the day messages already written to the volunteer for that day (newest first),
    and whether they were told of a visit that day (by a day message or a visit's SMS)."""
    prefix = f"drive:{drive.id}:vol{volunteer.id}:{day.isoformat()}:day-"
    earlier = _written_for_day(session, drive, volunteer, DAY_KINDS, prefix)
    told = [m for m in earlier if m.status in _TOLD]
    if told:
        return earlier, told[0].kind != "day_cancellation"
    # Before day messages, each visit had its own SMS: they count for their day.
    legacy = session.scalars(
        select(Visit)
        .join(Message, Message.visit_id == Visit.id)
        .where(
            Message.drive_id == drive.id,
            Message.volunteer_id == volunteer.id,
            Message.kind.in_(["assignment", "change_volunteer"]),
            Message.status.in_(_TOLD),
        )
    )
    return earlier, any(_local_day(v, settings) == day for v in legacy)


def notify_day(
    session: Session,
    volunteer: Volunteer,
    day: date,
    visits: list[Visit],
    *,
    drive: Drive,
    version: int,
    now: datetime | None = None,
    settings: SmsSettings | None = None,
) -> Message | None:
    """Tell a volunteer of their visits of one drive day, that the day changed, or that it is off.

    ``visits`` are the day's visits the volunteer still goes to. One SMS for the day, with one
    day link that opens them all: ``day_assignment`` the first time, ``day_change`` once they
    were told of that day, ``day_cancellation`` when none is left of a day they were told of
    (a day they never heard of gets nothing). A day message still queued (quiet hours) is
    cancelled (``replaced``): they get the newest word only. None when nothing was queued.
    """
    settings = sms_settings(settings)
    now = now or utcnow()
    if not volunteer.phone:
        return None
    earlier, told = _told_of_day(session, drive, volunteer, day, settings)
    if visits:
        kind: str | None = "day_change" if told else "day_assignment"
    else:
        kind = "day_cancellation" if told else None
    for waiting in earlier:
        if waiting.status is MessageStatus.QUEUED:
            waiting.status = MessageStatus.CANCELLED
            waiting.error_code = "replaced"
            waiting.status_updated_at = now
            waiting.sealed_body = None
    if kind is None:
        return None
    key = day_key(drive.id, volunteer.id, day, kind, version)
    if message_exists(session, key):
        return session.scalar(select(Message).where(Message.idempotency_key == key))
    locale = recipient_locale(volunteer.languages)
    values = day_values(visits, day, locale, settings, drive=drive)
    if visits:
        values["link"] = links.issue_day_link(
            session, drive=drive, volunteer_id=volunteer.id, day=day, now=now, settings=settings
        ).url
    body = render_sms(
        session, kind, locale, values, unaccented=bool(drive.unaccented_sms), settings=settings
    )
    starts = [v.starts_at or v.arrival_at for v in visits]
    soon = min((w for w in starts if w is not None), default=None)
    if soon is None:
        soon = datetime.combine(day, datetime.min.time(), settings.timezone)
    return queue_message(
        session,
        key=key,
        kind=kind,
        to_phone=volunteer.phone,
        body=body,
        locale=locale,
        urgent=soon - now < URGENT_WITHIN,
        send_after=now,
        drive_id=drive.id,
        # About the day, not one visit: what cancels or moves a visit's queue leaves it be.
        volunteer_id=volunteer.id,
        settings=settings,
    )


def volunteer_days(
    visits: Iterable[Visit], settings: SmsSettings, *, skip: Collection[tuple[int, int]] = ()
) -> dict[tuple[int, date], Volunteer]:
    """Return the (volunteer, local day) of each member of ``visits``, but the (visit id,
    volunteer id) pairs in ``skip`` (those who declined that visit)."""
    found: dict[tuple[int, date], Volunteer] = {}
    for visit in visits:
        day = _local_day(visit, settings)
        if day is None:
            continue
        for member in _members(visit):
            if (visit.id, member.id) not in skip:
                found.setdefault((member.id, day), member)
    return found


def notify_days(
    session: Session,
    plan: Plan,
    days: dict[tuple[int, date], Volunteer],
    *,
    now: datetime | None = None,
    settings: SmsSettings | None = None,
) -> list[Message]:
    """Tell each volunteer of ``days`` about that day in ``plan`` (see ``notify_day``)."""
    settings = sms_settings(settings)
    if not days:
        return []
    return _per_day(session, plan, days, notify_day, now=now, settings=settings)


def _per_day(
    session: Session,
    plan: Plan,
    days: dict[tuple[int, date], Volunteer],
    notify: Callable[..., Message | None],
    *,
    now: datetime | None,
    settings: SmsSettings,
) -> list[Message]:
    """Call ``notify`` (``notify_day`` or ``notify_guardian``) for each (volunteer, day) of
    ``days`` with that volunteer's visits of the day in ``plan``; return what was queued."""
    going: dict[tuple[int, date], list[Visit]] = {}
    for visit in plan.visits:
        day = _local_day(visit, settings)
        if day is None or visit.status not in _GOING:
            continue
        for member in _members(visit):
            going.setdefault((member.id, day), []).append(visit)
    sent = []
    for (volunteer_id, day), volunteer in sorted(days.items(), key=lambda item: item[0]):
        message = notify(
            session,
            volunteer,
            day,
            going.get((volunteer_id, day), []),
            drive=plan.drive,
            version=plan.version,
            now=now,
            settings=settings,
        )
        if message is not None and message.status is MessageStatus.QUEUED:
            sent.append(message)
    return sent


def drive_recipients(session: Session, drive: Drive) -> list[tuple[str, str, dict[str, Any]]]:
    """Return (phone, locale, ids) of everyone a drive broadcast reaches, each number once.

    Volunteers invited to the drive (not those who declined or withdrew) and households of
    the drive's requests that have a mobile number.
    """
    seen: set[str] = set()
    found: list[tuple[str, str, dict[str, Any]]] = []
    volunteers = session.scalars(
        select(Volunteer)
        .join(DriveVolunteer, DriveVolunteer.volunteer_id == Volunteer.id)
        .where(
            DriveVolunteer.drive_id == drive.id,
            DriveVolunteer.status.in_([InvitationStatus.INVITED, InvitationStatus.ACCEPTED]),
        )
        .order_by(Volunteer.id)
    )
    for volunteer in volunteers:
        if volunteer.phone and volunteer.phone not in seen:
            seen.add(volunteer.phone)
            found.append(
                (
                    volunteer.phone,
                    recipient_locale(volunteer.languages),
                    {"volunteer_id": volunteer.id},
                )
            )
    requests = session.scalars(
        select(HelpRequest)
        .join(DriveRequest, DriveRequest.request_id == HelpRequest.id)
        .where(DriveRequest.drive_id == drive.id)
        .order_by(HelpRequest.id)
    )
    for request in requests:
        if request.can_receive_sms and request.phone and request.phone not in seen:
            seen.add(request.phone)
            found.append(
                (request.phone, recipient_locale(request.languages), {"request_id": request.id})
            )
    return found


def broadcast(
    session: Session,
    drive: Drive,
    text: str,
    *,
    urgent: bool = False,
    now: datetime | None = None,
    settings: SmsSettings | None = None,
) -> int:
    """Queue ``text`` to every volunteer and household of a drive; return how many were queued.

    The key holds a hash of the text, so the same broadcast run twice queues nothing new.
    """
    settings = sms_settings(settings)
    clean = " ".join((text or "").split())
    if not clean:
        raise MessagingError("the broadcast text is empty")
    if len(clean) > MAX_BROADCAST_CHARS:
        raise MessagingError(f"the broadcast text is longer than {MAX_BROADCAST_CHARS} characters")
    digest = hashlib.sha256(clean.encode()).hexdigest()[:12]
    queued = 0
    for phone, locale, ids in drive_recipients(session, drive):
        key = f"drive:{drive.id}:broadcast:{digest}:{phone}"
        if message_exists(session, key):
            continue
        body = render_sms(
            session,
            "broadcast",
            locale,
            {"text": clean, "drive": drive.name},
            unaccented=drive.unaccented_sms,
            settings=settings,
        )
        message = queue_message(
            session,
            key=key,
            kind="broadcast",
            to_phone=phone,
            body=body,
            locale=locale,
            urgent=urgent,
            send_after=now,
            drive_id=drive.id,
            **ids,
        )
        if message.status == "queued":
            queued += 1
    return queued


# --- a minor's parent or guardian -------------------------------------------------------------

#: What a minor's guardian hears: the day's visits, a change to them, or that the day is off.
GUARDIAN_KINDS = ("guardian_assignment", "guardian_change", "guardian_cancellation")
#: Visits the volunteer still goes to: the day's schedule the guardian is told.
_GOING = frozenset({VisitStatus.SCHEDULED, VisitStatus.CONFIRMED, VisitStatus.IN_PROGRESS})
#: A guardian's SMS that reached (or may have reached: held after a crash) the provider.
_TOLD = (MessageStatus.SENDING, MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.HELD)
#: Hamlets named in a guardian's SMS before "...": a long list would make the SMS take a
#: second or third part, each one paid.
_AREA_HAMLETS = 3


def _local_day(visit: Visit, settings: SmsSettings) -> date | None:
    when = visit.starts_at or visit.arrival_at
    return when.astimezone(settings.timezone).date() if when else None


def _guardian_phone(volunteer: Volunteer) -> str | None:
    """The guardian's number when it can receive SMS (older records may hold a landline)."""
    if not volunteer.guardian_phone or volunteer.guardian_consent_at is None:
        return None
    try:
        phone = parse_phone(volunteer.guardian_phone, mobile_only=True)
    except PhoneError:
        return None
    return phone.e164 if phone.e164 != volunteer.phone else None


def _area(visits: list[Visit]) -> str:
    """Where the day's visits are, roughly: hamlets and communes, never a house or landmark."""
    by_commune: dict[str, list[str]] = {}
    for visit in visits:
        hamlets = by_commune.setdefault(visit.request.commune.name, [])
        hamlet = visit.request.hamlet_label
        if hamlet and hamlet not in hamlets:
            hamlets.append(hamlet)
    parts = []
    for commune, hamlets in by_commune.items():
        shown = hamlets[:_AREA_HAMLETS] + (["..."] if len(hamlets) > _AREA_HAMLETS else [])
        parts.append(", ".join([*shown, commune]))
    return "; ".join(parts)


#: How a guardian's SMS names the coordinator to call: the account's name and the mobile.
_CONTACT = {"vi": " Liên hệ {name}: {phone}.", "en": " Contact {name}: {phone}."}
#: A longer account name ("Bí thư Đoàn phường Thuận Hóa") becomes the role's word.
_CONTACT_NAME_CHARS = 20
_COORDINATOR = {"vi": "điều phối", "en": "the coordinator"}


def coordinator_contact(session: Session, drive: Drive | None, locale: str) -> str:
    """The drive's coordinator (who created it) as a guardian may reach them, or "".

    Only an active account with a mobile gives a contact: its name (or, when longer than
    ``_CONTACT_NAME_CHARS``, "the coordinator") and the number as dialled, short enough to
    keep a guardian's SMS in one part.
    """
    if drive is None or drive.created_by_id is None:
        return ""
    user = session.get(User, drive.created_by_id)
    if user is None or not user.active or not user.phone:
        return ""
    name = " ".join((user.name or "").split())
    if not name or len(name) > _CONTACT_NAME_CHARS:
        name = _COORDINATOR[locale]
    phone = national_format(user.phone).replace(" ", "")
    return _CONTACT[locale].format(name=name, phone=phone)


def guardian_values(
    volunteer: Volunteer,
    visits: list[Visit],
    day: date,
    locale: str,
    settings: SmsSettings,
    contact: str = "",
) -> dict[str, Any]:
    """Return the placeholders of a guardian's SMS about one day (``visits`` may be empty);
    ``contact`` is the coordinator's (see ``coordinator_contact``)."""
    ordered = sorted(visits, key=lambda v: (v.starts_at or v.arrival_at, v.id))
    partners: list[str] = []
    for visit in ordered:
        for member in _members(visit):
            if member.id != volunteer.id and member.first_name not in partners:
                partners.append(member.first_name)
    first = (ordered[0].starts_at or ordered[0].arrival_at) if ordered else None
    last = max((v.ends_at or v.starts_at or v.arrival_at for v in ordered), default=None)
    span = ""
    if first is not None and last is not None:
        span = f"{_clock(first, settings)}-{_clock(last, settings)}"
    return {
        "volunteer": volunteer.first_name,
        "date": format_date(day, "EEEE dd/MM", locale=locale),
        "time": span,
        "area": _area(ordered),
        "partner": ", ".join(partners) or _NOBODY[locale],
        "count": str(len(ordered)),
        "drive": ordered[0].plan.drive.name if ordered else "",
        "contact": contact,
    }


def _guardian_key_prefix(drive_id: int, volunteer_id: int, day: date) -> str:
    return f"drive:{drive_id}:guardian:vol{volunteer_id}:{day.isoformat()}:"


def notify_guardian(
    session: Session,
    volunteer: Volunteer,
    day: date,
    visits: list[Visit],
    *,
    drive: Drive,
    version: int,
    now: datetime | None = None,
    settings: SmsSettings | None = None,
) -> Message | None:
    """Tell a minor's guardian what the volunteer does that day, or that the day is off.

    ``visits`` are the day's visits the volunteer still goes to. The guardian hears only
    what changed: nothing when the text would be the one they last got (or are about to
    get), and no cancellation for a day they never heard of. A message still queued (quiet
    hours) is replaced by the newer one. A failed or undelivered one does not count as
    told. None when nothing was queued.
    """
    settings = sms_settings(settings)
    now = now or utcnow()
    phone = _guardian_phone(volunteer)
    if phone is None:
        return None
    prefix = _guardian_key_prefix(drive.id, volunteer.id, day)
    earlier = _written_for_day(session, drive, volunteer, GUARDIAN_KINDS, prefix)
    told = [m for m in earlier if m.status in _TOLD]
    if visits:
        kind = "guardian_change" if told else "guardian_assignment"
    elif told and told[0].kind != "guardian_cancellation":
        kind = "guardian_cancellation"
    else:
        kind = None
    locale = recipient_locale(volunteer.languages)
    body = None
    if kind is not None:
        contact = coordinator_contact(session, drive, locale)
        values = guardian_values(volunteer, visits, day, locale, settings, contact)
        body = render_sms(
            session, kind, locale, values, unaccented=bool(drive.unaccented_sms), settings=settings
        )
        latest = earlier[0] if earlier else None
        if latest is not None and latest.body == body:
            return None  # they have (or are about to get) exactly this
    # What waits and was not sent yet is superseded: the guardian gets the newest word only.
    for waiting in earlier:
        if waiting.status is MessageStatus.QUEUED:
            waiting.status = MessageStatus.CANCELLED
            waiting.error_code = "replaced"
            waiting.status_updated_at = now
            waiting.sealed_body = None
    if kind is None or body is None:
        return None
    digest = hashlib.sha256(body.encode()).hexdigest()[:8]
    first = min(visits, key=lambda v: (v.starts_at or v.arrival_at, v.id)) if visits else None
    return queue_message(
        session,
        key=f"{prefix}v{version}:{digest}",
        kind=kind,
        to_phone=phone,
        body=body,
        locale=locale,
        urgent=first is not None and _is_soon(first, now),
        send_after=now,
        drive_id=drive.id,
        # About the day, not one visit: what cancels or moves a visit's queue leaves it be.
        volunteer_id=volunteer.id,
        settings=settings,
    )


def notify_guardians(
    session: Session,
    plan: Plan,
    touched: Iterable[Visit],
    *,
    now: datetime | None = None,
    settings: SmsSettings | None = None,
) -> list[Message]:
    """Tell the guardians of the minors in the ``touched`` visits about their day in ``plan``.

    ``touched`` are the visits that were assigned, moved or called off (of any version); for
    each minor in their teams, on each of those days, the guardian gets the day's visits in
    ``plan`` (see ``notify_guardian``).
    """
    settings = sms_settings(settings)
    days: dict[tuple[int, date], Volunteer] = {}
    for visit in touched:
        day = _local_day(visit, settings)
        if day is None:
            continue
        for member in _members(visit):
            if member.is_minor_on(day):
                days.setdefault((member.id, day), member)
    if not days:
        return []
    return _per_day(session, plan, days, notify_guardian, now=now, settings=settings)
