"""Replies by SMS, where two-way SMS works (local providers; Twilio numbers outside Vietnam).

Keywords, with or without tone marks and in any case: ``CO``/``YES`` + code (accept or
confirm), ``KHONG``/``NO`` + code (decline, or ask for another time), ``XONG`` + code (done),
``HUY``/``STOP`` (opt out), ``HELP``. The code is the visit number printed in our messages; a
person with one open visit may leave it out. A reply is the keyword alone or with its code;
anything longer gets the "not understood" answer. Each provider message id is handled once: a
retried webhook gets the same answer and changes nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from volunteer_hub.models import (
    HelpRequest,
    InboundMessage,
    Plan,
    Team,
    Visit,
    Volunteer,
    team_member,
    utcnow,
)
from volunteer_hub.services.messaging import responses
from volunteer_hub.services.messaging.notifications import recipient_locale
from volunteer_hub.services.messaging.outbox import insert_once, opt_out
from volunteer_hub.services.messaging.settings import SmsSettings, sms_settings
from volunteer_hub.services.messaging.templates import render_sms
from volunteer_hub.sms.text import unaccent

KEYWORDS: dict[str, frozenset[str]] = {
    "accept": frozenset({"CO", "YES", "Y", "OK", "DONGY"}),
    "decline": frozenset({"KHONG", "NO", "K"}),
    "done": frozenset({"XONG", "DONE"}),
    "opt_out": frozenset({"HUY", "STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"}),
    "help": frozenset({"HELP", "INFO", "TROGIUP"}),
}


@dataclass(frozen=True)
class ParsedReply:
    """What a reply asks for, and the visit code it names (if any)."""

    action: str
    code: int | None = None


def parse_reply(text: str) -> ParsedReply:
    """Read a keyword and an optional visit code from a reply.

    The reply must be the keyword alone or the keyword and a code: unaccented, everyday words
    look like keywords ("Cô ơi..." reads CO, and Huy is a common name), so a longer message is
    never taken for an answer.
    """
    words = re.findall(r"[A-Z0-9]+", unaccent(text or "").upper())
    if not words:
        return ParsedReply("unknown")
    first, rest = words[0], words[1:]
    # "DONG Y" is two words in Vietnamese ("đồng ý", I agree).
    if first == "DONG" and rest[:1] == ["Y"]:
        first, rest = "DONGY", rest[1:]
    if len(rest) > 1 or (rest and not (rest[0].isdigit() and len(rest[0]) <= 10)):
        return ParsedReply("unknown")
    number = int(rest[0]) if rest else None
    for action, words_for_it in KEYWORDS.items():
        if first in words_for_it:
            return ParsedReply(action, number)
    return ParsedReply("unknown")


@dataclass(frozen=True)
class InboundResult:
    """How an inbound message was handled, and the reply to send back (if any)."""

    action: str
    reply: str | None
    duplicate: bool = False


def _open_visits_of_volunteer(session: Session, volunteer: Volunteer, now: datetime) -> list[Visit]:
    return list(
        session.scalars(
            select(Visit)
            .join(Team, Team.id == Visit.team_id)
            .join(team_member, team_member.c.team_id == Team.id)
            .join(Plan, Plan.id == Visit.plan_id)
            .where(
                team_member.c.volunteer_id == volunteer.id,
                Plan.published_at.is_not(None),
                Visit.status.in_(list(responses.OPEN_STATUSES)),
                Visit.starts_at > now - timedelta(hours=12),
            )
            .order_by(Visit.starts_at)
        )
    )


def _open_visits_of_household(session: Session, phone: str, now: datetime) -> list[Visit]:
    return list(
        session.scalars(
            select(Visit)
            .join(HelpRequest, HelpRequest.id == Visit.request_id)
            .join(Plan, Plan.id == Visit.plan_id)
            .where(
                HelpRequest.phone == phone,
                Plan.published_at.is_not(None),
                Visit.status.in_(list(responses.OPEN_STATUSES)),
                Visit.starts_at > now - timedelta(hours=12),
            )
            .order_by(Visit.starts_at)
        )
    )


def _pick(visits: list[Visit], code: int | None) -> Visit | None:
    if code is not None:
        return next((v for v in visits if v.id == code), None)
    return visits[0] if len(visits) == 1 else None


def handle_inbound(
    session: Session,
    *,
    provider_sid: str,
    from_phone: str,
    to_phone: str | None,
    body: str,
    now: datetime | None = None,
    settings: SmsSettings | None = None,
) -> InboundResult:
    """Record an inbound SMS once, act on its keyword, and return the reply. Caller commits."""
    settings = sms_settings(settings)
    now = now or utcnow()
    existing = session.scalar(
        select(InboundMessage).where(InboundMessage.provider_sid == provider_sid)
    )
    if existing is not None:
        return InboundResult(existing.action or "unknown", existing.result, duplicate=True)
    record = InboundMessage(
        provider_sid=provider_sid,
        from_phone=from_phone[:20],
        to_phone=(to_phone or None),
        body=(body or "")[:1600],
        received_at=now,
    )
    stored = insert_once(
        session,
        record,
        lambda: session.scalar(
            select(InboundMessage).where(InboundMessage.provider_sid == provider_sid)
        ),
    )
    if stored is not record:
        # The same webhook, retried while the first was still being handled.
        return InboundResult(stored.action or "unknown", stored.result, duplicate=True)

    parsed = parse_reply(body)
    volunteer = session.scalar(select(Volunteer).where(Volunteer.phone == from_phone))
    locale = recipient_locale(volunteer.languages) if volunteer else "vi"
    action, kind, code = parsed.action, "reply_unknown", parsed.code

    if parsed.action == "opt_out":
        opt_out(session, from_phone, source="sms", note=(body or "")[:300], now=now)
        kind = "reply_opt_out"
    elif parsed.action == "help":
        kind = "reply_help"
    elif parsed.action in ("accept", "decline", "done"):
        kind, action, code = _act(session, parsed, volunteer, from_phone, now)

    reply = render_sms(
        session,
        kind,
        locale,
        {"code": "" if code is None else str(code)},
        unaccented=settings.unaccented_default,
        settings=settings,
    )
    record.action = action[:20]
    record.result = reply[:300]
    session.flush()
    return InboundResult(action, reply)


def _act(
    session: Session,
    parsed: ParsedReply,
    volunteer: Volunteer | None,
    phone: str,
    now: datetime,
) -> tuple[str, str, int | None]:
    """Apply an accept/decline/done reply; return (reply kind, action recorded, code)."""
    try:
        if volunteer is not None:
            visit = _pick(_open_visits_of_volunteer(session, volunteer, now), parsed.code)
            if visit is None:
                return "reply_no_visit", "no_visit", parsed.code
            if parsed.action == "accept":
                responses.volunteer_accept(session, visit, volunteer, channel="sms", now=now)
            elif parsed.action == "decline":
                responses.volunteer_decline(session, visit, volunteer, None, channel="sms", now=now)
            else:
                responses.volunteer_done(session, visit, volunteer, channel="sms", now=now)
            return "reply_ok", parsed.action, visit.id
        visit = _pick(_open_visits_of_household(session, phone, now), parsed.code)
        if visit is None or parsed.action == "done":
            return "reply_no_visit", "no_visit", parsed.code
        if parsed.action == "accept":
            responses.household_confirm(session, visit, channel="sms", now=now)
            return "reply_ok", "confirm", visit.id
        responses.household_reschedule(session, visit, None, channel="sms", now=now)
        return "reply_ok", "reschedule", visit.id
    except responses.ResponseError:
        return "reply_no_visit", "refused", parsed.code
