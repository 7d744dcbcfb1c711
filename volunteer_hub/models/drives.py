"""Weekend drives, their plans, teams and visits."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from volunteer_hub.models.base import Base, enum_column, utcnow
from volunteer_hub.models.catalogue import Service
from volunteer_hub.models.people import TravelMode, Volunteer
from volunteer_hub.models.places import Commune
from volunteer_hub.models.requests import HelpRequest


class DriveStatus(enum.StrEnum):
    """A drive's life: drafted, planned, published to volunteers and households, done."""

    DRAFT = "draft"
    PLANNING = "planning"
    PUBLISHED = "published"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


drive_commune = Table(
    "drive_commune",
    Base.metadata,
    Column("drive_id", ForeignKey("drive.id", ondelete="CASCADE"), primary_key=True),
    Column("commune_id", ForeignKey("commune.id"), primary_key=True),
)


class Drive(Base):
    """A weekend drive over one or more communes, in time blocks on one or two days."""

    __tablename__ = "drive"
    __table_args__ = (CheckConstraint("team_size IN (1, 2)", name="team_size_values"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(160))
    status: Mapped[DriveStatus] = mapped_column(
        enum_column(DriveStatus), default=DriveStatus.DRAFT, index=True
    )
    team_size: Mapped[int] = mapped_column(default=2)
    # Tone marks stripped from SMS (đ→d): half the cost per message in Vietnam.
    unaccented_sms: Mapped[bool] = mapped_column(default=True)
    notes: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    published_at: Mapped[datetime | None]
    # Optimistic locking: a second coordinator saving a stale copy gets a conflict.
    row_version: Mapped[int] = mapped_column(default=1)

    communes: Mapped[list[Commune]] = relationship(secondary=drive_commune, order_by=Commune.name)
    blocks: Mapped[list[TimeBlock]] = relationship(
        back_populates="drive", cascade="all, delete-orphan", order_by="TimeBlock.starts_at"
    )
    meeting_points: Mapped[list[MeetingPoint]] = relationship(
        back_populates="drive", cascade="all, delete-orphan", order_by="MeetingPoint.name"
    )
    service_minutes: Mapped[list[DriveService]] = relationship(cascade="all, delete-orphan")
    requests: Mapped[list[DriveRequest]] = relationship(
        back_populates="drive", cascade="all, delete-orphan"
    )
    volunteers: Mapped[list[DriveVolunteer]] = relationship(
        back_populates="drive", cascade="all, delete-orphan"
    )
    teams: Mapped[list[Team]] = relationship(
        back_populates="drive", cascade="all, delete-orphan", order_by="Team.code"
    )
    plans: Mapped[list[Plan]] = relationship(
        back_populates="drive", cascade="all, delete-orphan", order_by="Plan.version"
    )

    __mapper_args__ = {"version_id_col": row_version}

    @property
    def first_day(self) -> datetime | None:
        return self.blocks[0].starts_at if self.blocks else None

    @property
    def commune_ids(self) -> set[int]:
        return {c.id for c in self.communes}


class TimeBlock(Base):
    """A block of a drive's day when visits happen (for example Saturday 07:30-11:00)."""

    __tablename__ = "time_block"
    __table_args__ = (CheckConstraint("starts_at < ends_at", name="ordered_times"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    drive_id: Mapped[int] = mapped_column(ForeignKey("drive.id", ondelete="CASCADE"), index=True)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]

    drive: Mapped[Drive] = relationship(back_populates="blocks")


class MeetingPoint(Base):
    """Where teams gather and start (often the commune youth union office)."""

    __tablename__ = "meeting_point"

    id: Mapped[int] = mapped_column(primary_key=True)
    drive_id: Mapped[int] = mapped_column(ForeignKey("drive.id", ondelete="CASCADE"), index=True)
    commune_id: Mapped[int | None] = mapped_column(ForeignKey("commune.id"))
    name: Mapped[str] = mapped_column(String(160))
    address: Mapped[str | None] = mapped_column(String(300))
    lat: Mapped[float] = mapped_column(Float)
    lng: Mapped[float] = mapped_column(Float)

    drive: Mapped[Drive] = relationship(back_populates="meeting_points")


class DriveService(Base):
    """Minutes a service takes in this drive, when they differ from the catalogue's."""

    __tablename__ = "drive_service"
    __table_args__ = (CheckConstraint("minutes BETWEEN 5 AND 240", name="minutes_range"),)

    drive_id: Mapped[int] = mapped_column(
        ForeignKey("drive.id", ondelete="CASCADE"), primary_key=True
    )
    service_id: Mapped[int] = mapped_column(ForeignKey("service.id"), primary_key=True)
    minutes: Mapped[int]

    service: Mapped[Service] = relationship()


class DriveRequest(Base):
    """A help request the coordinator included in a drive."""

    __tablename__ = "drive_request"
    __table_args__ = (UniqueConstraint("drive_id", "request_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    drive_id: Mapped[int] = mapped_column(ForeignKey("drive.id", ondelete="CASCADE"), index=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("help_request.id"), index=True)
    included_at: Mapped[datetime] = mapped_column(default=utcnow)

    drive: Mapped[Drive] = relationship(back_populates="requests")
    request: Mapped[HelpRequest] = relationship()


class InvitationStatus(enum.StrEnum):
    """A volunteer's answer to a drive's invitation."""

    INVITED = "invited"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"  # accepted, then dropped out


class DriveVolunteer(Base):
    """A volunteer invited to a drive, and their answer."""

    __tablename__ = "drive_volunteer"
    __table_args__ = (UniqueConstraint("drive_id", "volunteer_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    drive_id: Mapped[int] = mapped_column(ForeignKey("drive.id", ondelete="CASCADE"), index=True)
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteer.id"), index=True)
    status: Mapped[InvitationStatus] = mapped_column(
        enum_column(InvitationStatus), default=InvitationStatus.INVITED
    )
    invited_at: Mapped[datetime] = mapped_column(default=utcnow)
    responded_at: Mapped[datetime | None]
    reason: Mapped[str | None] = mapped_column(String(300))

    drive: Mapped[Drive] = relationship(back_populates="volunteers")
    volunteer: Mapped[Volunteer] = relationship()


team_member = Table(
    "team_member",
    Base.metadata,
    Column("team_id", ForeignKey("team.id", ondelete="CASCADE"), primary_key=True),
    Column("volunteer_id", ForeignKey("volunteer.id"), primary_key=True),
)


class Team(Base):
    """One volunteer or a pair who visit households together during a drive."""

    __tablename__ = "team"
    __table_args__ = (UniqueConstraint("drive_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    drive_id: Mapped[int] = mapped_column(ForeignKey("drive.id", ondelete="CASCADE"), index=True)
    # Short and stable inside a drive ("T1"); the planner's team id.
    code: Mapped[str] = mapped_column(String(16))
    mode: Mapped[TravelMode] = mapped_column(enum_column(TravelMode))
    # None: the team starts from its first member's home.
    meeting_point_id: Mapped[int | None] = mapped_column(ForeignKey("meeting_point.id"))
    # Return to the meeting point at the end of each block (the planner's end point).
    returns_to_start: Mapped[bool] = mapped_column(default=False)
    max_visits: Mapped[int] = mapped_column(default=6)
    active: Mapped[bool] = mapped_column(default=True)

    drive: Mapped[Drive] = relationship(back_populates="teams")
    members: Mapped[list[Volunteer]] = relationship(
        secondary=team_member, order_by=Volunteer.full_name
    )
    meeting_point: Mapped[MeetingPoint | None] = relationship()


class PlanStatus(enum.StrEnum):
    """A plan version's life: queued for the planner, running, done, or ended otherwise."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


class Plan(Base):
    """A version of a drive's plan: the problem given to the planner and what came back."""

    __tablename__ = "plan"
    __table_args__ = (UniqueConstraint("drive_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    drive_id: Mapped[int] = mapped_column(ForeignKey("drive.id", ondelete="CASCADE"), index=True)
    version: Mapped[int]
    status: Mapped[PlanStatus] = mapped_column(
        enum_column(PlanStatus), default=PlanStatus.QUEUED, index=True
    )
    # The plan this one re-plans from, keeping what it can.
    based_on_id: Mapped[int | None] = mapped_column(ForeignKey("plan.id"))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # The exact planner problem JSON solved, so anyone can recheck the plan.
    problem: Mapped[dict[str, Any] | None]
    # The planner's plan JSON (version 1), as last saved (manual edits included).
    result: Mapped[dict[str, Any] | None]
    # Best objective so far and elapsed seconds, written while the planner runs.
    progress: Mapped[dict[str, Any]] = mapped_column(default=dict)
    stop_requested: Mapped[bool] = mapped_column(default=False)
    error: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    published_at: Mapped[datetime | None]
    # Optimistic locking, as on Drive.
    row_version: Mapped[int] = mapped_column(default=1)

    drive: Mapped[Drive] = relationship(back_populates="plans")
    based_on: Mapped[Plan | None] = relationship(remote_side=[id])
    visits: Mapped[list[Visit]] = relationship(back_populates="plan", cascade="all, delete-orphan")

    __mapper_args__ = {"version_id_col": row_version}

    @property
    def is_locked(self) -> bool:
        return self.published_at is not None


class VisitStatus(enum.StrEnum):
    """A visit's life on the day."""

    PLANNED = "planned"
    UNASSIGNED = "unassigned"
    SCHEDULED = "scheduled"
    CONFIRMED = "confirmed"
    DECLINED = "declined"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    NOT_HOME = "not_home"
    CANCELLED = "cancelled"


class Visit(Base):
    """A household's place in a plan: which team, when, or why it was left out."""

    __tablename__ = "visit"
    __table_args__ = (UniqueConstraint("plan_id", "request_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plan.id", ondelete="CASCADE"), index=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("help_request.id"), index=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("team.id"), index=True)
    shift_index: Mapped[int | None]
    seq: Mapped[int | None]
    arrival_at: Mapped[datetime | None]
    # Indexed for the reports' periods.
    starts_at: Mapped[datetime | None] = mapped_column(index=True)
    ends_at: Mapped[datetime | None]
    pinned: Mapped[bool] = mapped_column(default=False)
    status: Mapped[VisitStatus] = mapped_column(
        enum_column(VisitStatus), default=VisitStatus.PLANNED
    )
    unassigned_reason: Mapped[str | None] = mapped_column(String(20))
    unassigned_detail: Mapped[str | None] = mapped_column(String(300))
    volunteer_accepted_at: Mapped[datetime | None]
    household_confirmed_at: Mapped[datetime | None]
    # What the team reports after the visit.
    checked_in_at: Mapped[datetime | None]
    people_helped: Mapped[int | None]
    minutes_spent: Mapped[int | None]
    report_note: Mapped[str | None] = mapped_column(Text)
    reported_at: Mapped[datetime | None]

    plan: Mapped[Plan] = relationship(back_populates="visits")
    request: Mapped[HelpRequest] = relationship()
    team: Mapped[Team | None] = relationship()
    outcomes: Mapped[list[VisitOutcome]] = relationship(
        back_populates="visit", cascade="all, delete-orphan"
    )


class Outcome(enum.StrEnum):
    """What happened to one service asked for."""

    DONE = "done"
    PARTLY_DONE = "partly_done"
    REFERRED = "referred"
    NOT_POSSIBLE = "not_possible"
    NOT_HOME = "not_home"


class VisitOutcome(Base):
    """The outcome of one service of a visit."""

    __tablename__ = "visit_outcome"
    __table_args__ = (UniqueConstraint("visit_id", "service_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    visit_id: Mapped[int] = mapped_column(ForeignKey("visit.id", ondelete="CASCADE"), index=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("service.id"))
    outcome: Mapped[Outcome] = mapped_column(enum_column(Outcome))
    # For "referred": where to; for "not possible": why (no chip ID card, SIM not in own name...).
    reason: Mapped[str | None] = mapped_column(String(300))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)

    visit: Mapped[Visit] = relationship(back_populates="outcomes")
    service: Mapped[Service] = relationship()


def drive_days(drive: Drive, tz: Any) -> list[date]:
    """Return the local dates a drive's blocks fall on, in order."""
    return sorted({b.starts_at.astimezone(tz).date() for b in drive.blocks})
