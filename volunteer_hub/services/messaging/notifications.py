"""The messages a visit causes: assignment, household confirmation, changes, cancellations,
thanks, and whole-drive broadcasts.

Each function queues its messages in the caller's transaction, with an idempotency key that
names the visit, the recipient, the kind and the plan version (for example
``visit:123:assignment:vol45:v2``): publishing twice sends nothing twice, and a new version
sends again. Messages people act on carry a personal link.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable
from datetime import datetime, timedelta
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
    Visit,
    Volunteer,
    utcnow,
)
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
    now: datetime | None = None,
    settings: SmsSettings | None = None,
) -> Message | None:
    """Queue one message about a visit to one of its volunteers, or to its household.

    Each recipient gets their own personal link. None when the household has no mobile; the
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
        visit_id=visit.id,
        volunteer_id=volunteer.id if volunteer else None,
        request_id=visit.request_id,
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
) -> list[Message]:
    """Thank the team (with the outcome link) and the household (with a feedback link)."""
    return _queue_to_everyone(
        session, visit, kind="thanks", key=f"visit:{visit.id}:thanks", now=now, settings=settings
    )


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
