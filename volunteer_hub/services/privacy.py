"""Retention: households' contact details are removed some days after their last visit.

Counts survive (commune, hamlet, services, outcomes, people helped, priority, age group), so
reports keep their figures; names, phones, addresses, notes and the texts of messages go.
Decree 13/2023 asks that personal data be kept no longer than needed for its purpose.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from volunteer_hub.models import (
    HelpRequest,
    InboundMessage,
    Message,
    PersonalLink,
    RequestStatus,
    Visit,
    VisitResponse,
    utcnow,
)
from volunteer_hub.services import audit

logger = logging.getLogger("volunteer_hub.privacy")

#: What stands in for a removed name (the column cannot be empty).
REMOVED = "—"
ENDED = (
    RequestStatus.DONE,
    RequestStatus.NOT_HOME,
    RequestStatus.REFERRED,
    RequestStatus.CANCELLED,
)


class RetentionError(ValueError):
    """The retention setting is not a usable number of days."""


def retention_days(config: Mapping[str, Any]) -> int:
    """Return ``RETENTION_DAYS`` from the app's config; raise RetentionError when it is wrong."""
    value = config.get("RETENTION_DAYS")
    # From the environment it is whatever JSON made of it: 180, "180", "soon", 1.5, true...
    usable = isinstance(value, int | str) and not isinstance(value, bool)
    text = str(value).strip() if usable else ""
    if not text.isdigit() or int(text) < 1:
        raise RetentionError(
            f"VH_RETENTION_DAYS must be a whole number of days, at least 1 (it is {value!r})"
        )
    return int(text)


@dataclass(frozen=True)
class PurgeReport:
    """What a purge removed (or would remove, in a dry run)."""

    requests: int
    messages: int
    inbound: int
    cutoff: datetime
    dry_run: bool
    #: The purged requests' reference codes (not personal: they name no one).
    references: tuple[str, ...] = field(default=(), repr=False)


def due_for_purge(session: Session, cutoff: datetime) -> list[HelpRequest]:
    """Return ended requests whose last visit (or last change) is older than the cutoff."""
    last_visit = (
        select(Visit.request_id, func.max(Visit.ends_at).label("last"))
        .group_by(Visit.request_id)
        .subquery()
    )
    rows = session.execute(
        select(HelpRequest, last_visit.c.last)
        .outerjoin(last_visit, last_visit.c.request_id == HelpRequest.id)
        .where(HelpRequest.contact_purged_at.is_(None), HelpRequest.status.in_(ENDED))
    ).all()
    due = []
    for request, last in rows:
        latest = max(t for t in (last, request.status_changed_at) if t is not None)
        if latest.tzinfo is None:  # SQLite's MAX() hands back the stored UTC text as naive
            latest = latest.replace(tzinfo=cutoff.tzinfo)
        if latest < cutoff:
            due.append(request)
    return due


def purge_contacts(
    session: Session,
    *,
    days: int,
    now: datetime | None = None,
    dry_run: bool = False,
    actor: str = "system",
) -> PurgeReport:
    """Remove contact details of households last visited more than ``days`` ago.

    The caller commits.
    """
    if days < 1:
        raise ValueError("the retention period must be at least one day")
    now = now or utcnow()
    cutoff = now - timedelta(days=days)
    requests = due_for_purge(session, cutoff)
    ids = [r.id for r in requests]
    phones = {r.phone for r in requests if r.phone}
    messages = (
        session.scalar(select(func.count()).select_from(Message).where(Message.request_id.in_(ids)))
        or 0
    )
    inbound = (
        session.scalar(
            select(func.count())
            .select_from(InboundMessage)
            .where(InboundMessage.from_phone.in_(phones), InboundMessage.received_at < cutoff)
        )
        or 0
    )
    if not dry_run and ids:
        for request in requests:
            request.beneficiary_name = REMOVED
            for name in (
                "contact_name",
                "contact_relation",
                "phone",
                "reach_note",
                "hamlet_name",
                "house",
                "landmark",
                "lat",
                "lng",
                "notes",
                "follow_up_reason",
            ):
                setattr(request, name, None)
            request.phone_is_mobile = False
            request.contact_purged_at = now
        session.execute(
            update(Message)
            .where(Message.request_id.in_(ids))
            .values(body="", to_phone="", sealed_body=None)
            .execution_options(synchronize_session=False)
        )
        visit_ids = select(Visit.id).where(Visit.request_id.in_(ids))
        session.execute(
            update(Visit)
            .where(Visit.request_id.in_(ids))
            .values(report_note=None)
            .execution_options(synchronize_session=False)
        )
        session.execute(
            update(VisitResponse)
            .where(VisitResponse.visit_id.in_(visit_ids))
            .values(note=None)
            .execution_options(synchronize_session=False)
        )
        session.execute(
            update(PersonalLink)
            .where(PersonalLink.request_id.in_(ids), PersonalLink.revoked_at.is_(None))
            .values(revoked_at=now)
            .execution_options(synchronize_session=False)
        )
        if phones:
            session.execute(
                update(InboundMessage)
                .where(InboundMessage.from_phone.in_(phones), InboundMessage.received_at < cutoff)
                .values(body="", from_phone="")
                .execution_options(synchronize_session=False)
            )
        audit.record(
            session,
            action="purge",
            entity="help_request",
            actor=actor,
            detail={"requests": len(ids), "messages": messages, "inbound": inbound, "days": days},
        )
        session.flush()
        logger.info(
            "purge by %s: contact details of %d request(s) removed, %d SMS and %d inbound "
            "text(s) blanked (last visit before %s, %d days)",
            actor,
            len(ids),
            messages,
            inbound,
            cutoff.isoformat(timespec="seconds"),
            days,
        )
    references = tuple(sorted(r.reference for r in requests))
    return PurgeReport(len(ids), messages, inbound, cutoff, dry_run, references)
