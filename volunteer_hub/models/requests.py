"""Households asking for help at home."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, Float, ForeignKey, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from volunteer_hub.models.base import Base, enum_column, utcnow
from volunteer_hub.models.catalogue import Service
from volunteer_hub.models.places import Commune, Hamlet
from volunteer_hub.models.search import keep_search_text, trigram_index


class RequestStatus(enum.StrEnum):
    """Where a request is in its life: new → triaged → scheduled → confirmed → an end."""

    NEW = "new"
    TRIAGED = "triaged"
    SCHEDULED = "scheduled"
    CONFIRMED = "confirmed"
    DONE = "done"
    NOT_HOME = "not_home"
    REFERRED = "referred"
    CANCELLED = "cancelled"


#: The moves a request may make; anything else is refused by the services.
REQUEST_TRANSITIONS: dict[RequestStatus, frozenset[RequestStatus]] = {
    RequestStatus.NEW: frozenset({RequestStatus.TRIAGED, RequestStatus.CANCELLED}),
    RequestStatus.TRIAGED: frozenset(
        {RequestStatus.SCHEDULED, RequestStatus.NEW, RequestStatus.CANCELLED}
    ),
    RequestStatus.SCHEDULED: frozenset(
        {
            RequestStatus.CONFIRMED,
            RequestStatus.TRIAGED,
            RequestStatus.DONE,
            RequestStatus.NOT_HOME,
            RequestStatus.REFERRED,
            RequestStatus.CANCELLED,
        }
    ),
    RequestStatus.CONFIRMED: frozenset(
        {
            RequestStatus.TRIAGED,
            RequestStatus.DONE,
            RequestStatus.NOT_HOME,
            RequestStatus.REFERRED,
            RequestStatus.CANCELLED,
        }
    ),
    RequestStatus.DONE: frozenset(),
    RequestStatus.NOT_HOME: frozenset(),
    RequestStatus.REFERRED: frozenset(),
    RequestStatus.CANCELLED: frozenset(),
}


class RequestSource(enum.StrEnum):
    """How the request reached us."""

    WEB = "web"
    API = "api"
    PHONE = "phone"
    IN_PERSON = "in_person"
    IMPORT = "import"
    FOLLOW_UP = "follow_up"


class AgeGroup(enum.StrEnum):
    """Age of the person who needs help, in bands a caller can answer."""

    UNDER_18 = "under_18"
    ADULT = "18_59"
    OLDER = "60_74"
    ELDERLY = "75_plus"


class Situation(enum.StrEnum):
    """What makes a household more at risk of being left behind."""

    ELDERLY_ALONE = "elderly_alone"
    DISABILITY = "disability"
    ILLNESS = "illness"
    NO_SMARTPHONE = "no_smartphone"
    REMOTE = "remote"
    LOW_INCOME = "low_income"


class LocationSource(enum.StrEnum):
    """Where a request's coordinates came from, best first."""

    PIN = "pin"
    HAMLET = "hamlet"
    COMMUNE = "commune"


class HelpRequest(Base):
    """A household's request for help at home, for one or more people."""

    __tablename__ = "help_request"
    __table_args__ = (
        CheckConstraint("priority BETWEEN 1 AND 5", name="priority_range"),
        CheckConstraint("people_count BETWEEN 1 AND 20", name="people_count_range"),
        trigram_index("help_request"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Short and unambiguous (no 0/O, 1/I), read out over the phone.
    reference: Mapped[str] = mapped_column(String(12), unique=True)
    status: Mapped[RequestStatus] = mapped_column(
        enum_column(RequestStatus), default=RequestStatus.NEW, index=True
    )
    source: Mapped[RequestSource] = mapped_column(enum_column(RequestSource))
    # 1 (can wait) to 5 (most at risk); set from the situation at intake, triage may change it.
    priority: Mapped[int] = mapped_column(default=3)

    # The person who needs the help.
    beneficiary_name: Mapped[str] = mapped_column(String(120))
    age_group: Mapped[AgeGroup | None] = mapped_column(enum_column(AgeGroup))
    situations: Mapped[list[str]] = mapped_column(default=list)
    people_count: Mapped[int] = mapped_column(default=1)
    languages: Mapped[list[str]] = mapped_column(default=list)

    # The person who asked: often a grandchild or the hamlet head.
    contact_is_beneficiary: Mapped[bool] = mapped_column(default=True)
    contact_name: Mapped[str | None] = mapped_column(String(120))
    contact_relation: Mapped[str | None] = mapped_column(String(80))
    # E.164 or None when the household has no phone at all.
    phone: Mapped[str | None] = mapped_column(String(20), index=True)
    phone_is_mobile: Mapped[bool] = mapped_column(default=False)
    # How to reach a household without a usable phone ("through the hamlet head", ...).
    reach_note: Mapped[str | None] = mapped_column(String(300))

    commune_id: Mapped[int] = mapped_column(ForeignKey("commune.id"), index=True)
    hamlet_id: Mapped[int | None] = mapped_column(ForeignKey("hamlet.id"))
    # Free text when the hamlet or residential group is not in our list.
    hamlet_name: Mapped[str | None] = mapped_column(String(120))
    house: Mapped[str | None] = mapped_column(String(200))
    # Reference, names and house folded for search (models/search.py keeps it in step).
    search_text: Mapped[str] = mapped_column(Text, default="", server_default="")
    landmark: Mapped[str | None] = mapped_column(String(300))
    lat: Mapped[float | None] = mapped_column(Float)
    lng: Mapped[float | None] = mapped_column(Float)
    location_source: Mapped[LocationSource] = mapped_column(
        enum_column(LocationSource), default=LocationSource.COMMUNE
    )

    notes: Mapped[str | None] = mapped_column(Text)
    consent_at: Mapped[datetime]
    consent_version: Mapped[str] = mapped_column(String(20))
    # Set when the same phone and address, or the same name (folded) at the same house or
    # hamlet, came in before; a coordinator decides.
    possible_duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("help_request.id"))
    # A coordinator checked the flag and said it is another household: planning keeps both.
    not_duplicate: Mapped[bool] = mapped_column(default=False, server_default=false())
    follow_up_of_id: Mapped[int | None] = mapped_column(ForeignKey("help_request.id"))
    follow_up_reason: Mapped[str | None] = mapped_column(String(300))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    # The account whose API token submitted it (partner apps included), who may read it back
    # at GET /api/v1/requests/{reference}.
    submitted_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    status_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    # When the retention rule removed names, phone and address (counts are kept).
    contact_purged_at: Mapped[datetime | None]

    commune: Mapped[Commune] = relationship()
    hamlet: Mapped[Hamlet | None] = relationship()
    services: Mapped[list[Service]] = relationship(
        secondary="request_service", order_by=Service.sort_order
    )
    windows: Mapped[list[RequestWindow]] = relationship(
        cascade="all, delete-orphan", order_by="RequestWindow.starts_at"
    )
    possible_duplicate_of: Mapped[HelpRequest | None] = relationship(
        remote_side=[id], foreign_keys=[possible_duplicate_of_id]
    )
    follow_up_of: Mapped[HelpRequest | None] = relationship(
        remote_side=[id], foreign_keys=[follow_up_of_id]
    )

    @property
    def hamlet_label(self) -> str | None:
        return self.hamlet.name if self.hamlet else self.hamlet_name

    @property
    def can_receive_sms(self) -> bool:
        return bool(self.phone and self.phone_is_mobile)


class RequestService(Base):
    """A service a request asks for."""

    __tablename__ = "request_service"

    request_id: Mapped[int] = mapped_column(
        ForeignKey("help_request.id", ondelete="CASCADE"), primary_key=True
    )
    service_id: Mapped[int] = mapped_column(ForeignKey("service.id"), primary_key=True)


class RequestWindow(Base):
    """A time the household prefers to be visited (often one of a drive's time blocks)."""

    __tablename__ = "request_window"
    __table_args__ = (CheckConstraint("starts_at < ends_at", name="ordered_times"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("help_request.id", ondelete="CASCADE"), index=True
    )
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]


keep_search_text(HelpRequest, "reference", "beneficiary_name", "contact_name", "house")
