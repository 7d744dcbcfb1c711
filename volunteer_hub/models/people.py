"""Volunteers: who they are, what they can do, where they live and when they are free."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, Float, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from volunteer_hub.models.base import Base, enum_column, utcnow
from volunteer_hub.models.catalogue import Skill
from volunteer_hub.models.places import Commune, Hamlet
from volunteer_hub.models.search import keep_search_text, trigram_index


class VolunteerKind(enum.StrEnum):
    """The movement's three kinds of helpers."""

    STUDENT = "student"  # Đội sinh viên tình nguyện số
    AMBASSADOR = "ambassador"  # Đại sứ số
    COMMUNITY = "community"  # Tổ công nghệ số cộng đồng


class TravelMode(enum.StrEnum):
    """How a volunteer gets around; the planner's speed depends on it."""

    WALK = "walk"
    BICYCLE = "bicycle"
    MOTORBIKE = "motorbike"


class VolunteerStatus(enum.StrEnum):
    """Whether a coordinator has approved the volunteer for assignments."""

    PENDING = "pending"
    ACTIVE = "active"
    INACTIVE = "inactive"


class AvailabilitySlot(enum.StrEnum):
    """A recurring part of the week a volunteer is usually free."""

    SAT_MORNING = "sat_morning"
    SAT_AFTERNOON = "sat_afternoon"
    SUN_MORNING = "sun_morning"
    SUN_AFTERNOON = "sun_afternoon"
    WEEKDAY_EVENING = "weekday_evening"


#: Age at which a volunteer no longer needs a guardian's consent or an adult partner.
ADULT_AGE = 18


def age_on(born: date, day: date) -> int:
    """Return the age in whole years of someone born on ``born``, on ``day``."""
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


class Volunteer(Base):
    """A student volunteer, digital ambassador or community team member."""

    __tablename__ = "volunteer"
    __table_args__ = (
        CheckConstraint("max_visits_per_day BETWEEN 1 AND 12", name="max_visits_range"),
        trigram_index("volunteer"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    full_name: Mapped[str] = mapped_column(String(120))
    # E.164, a valid Vietnamese mobile number (checked by phonenumbers before it gets here).
    phone: Mapped[str] = mapped_column(String(20), unique=True)
    phone_verified_at: Mapped[datetime | None]
    kind: Mapped[VolunteerKind] = mapped_column(enum_column(VolunteerKind))
    school_or_unit: Mapped[str | None] = mapped_column(String(160))
    # Name and school folded for search (models/search.py keeps it in step).
    search_text: Mapped[str] = mapped_column(Text, default="", server_default="")
    date_of_birth: Mapped[date] = mapped_column(Date)
    guardian_name: Mapped[str | None] = mapped_column(String(120))
    guardian_phone: Mapped[str | None] = mapped_column(String(20))
    guardian_consent_at: Mapped[datetime | None]
    consent_at: Mapped[datetime]
    # Which wording of the consent text the person agreed to.
    consent_version: Mapped[str] = mapped_column(String(20))
    home_commune_id: Mapped[int] = mapped_column(ForeignKey("commune.id"), index=True)
    home_hamlet_id: Mapped[int | None] = mapped_column(ForeignKey("hamlet.id"))
    home_lat: Mapped[float | None] = mapped_column(Float)
    home_lng: Mapped[float | None] = mapped_column(Float)
    travel_mode: Mapped[TravelMode] = mapped_column(enum_column(TravelMode))
    # ISO 639 codes ("vi", "hmn", "km", "tyz", "en", ...).
    languages: Mapped[list[str]] = mapped_column(default=lambda: ["vi"])
    max_visits_per_day: Mapped[int] = mapped_column(default=4)
    status: Mapped[VolunteerStatus] = mapped_column(
        enum_column(VolunteerStatus), default=VolunteerStatus.PENDING
    )
    source: Mapped[str] = mapped_column(String(20), default="web")
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Set when the retention purge removed the personal details (VH_VOLUNTEER_RETENTION_DAYS).
    contact_purged_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    approved_at: Mapped[datetime | None]
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    home_commune: Mapped[Commune] = relationship()
    home_hamlet: Mapped[Hamlet | None] = relationship()
    skills: Mapped[list[VolunteerSkill]] = relationship(
        back_populates="volunteer", cascade="all, delete-orphan"
    )
    availability: Mapped[list[VolunteerAvailability]] = relationship(cascade="all, delete-orphan")
    absences: Mapped[list[VolunteerAbsence]] = relationship(
        cascade="all, delete-orphan", order_by="VolunteerAbsence.first_day"
    )

    def is_minor_on(self, day: date) -> bool:
        """Return True when the volunteer is under 18 on that day."""
        return age_on(self.date_of_birth, day) < ADULT_AGE

    def is_away_on(self, day: date) -> bool:
        """Return True when one of the volunteer's dates away covers that day."""
        return any(a.first_day <= day <= a.last_day for a in self.absences)

    @property
    def skill_codes(self) -> set[str]:
        return {vs.skill.code for vs in self.skills}

    @property
    def slots(self) -> set[AvailabilitySlot]:
        return {a.slot for a in self.availability}

    @property
    def first_name(self) -> str:
        # Vietnamese names put the given name last: "Nguyễn Thị Lan" is called Lan.
        return self.full_name.split()[-1] if self.full_name.strip() else self.full_name


class VolunteerSkill(Base):
    """A skill a volunteer has, self-rated 1 (learning) to 3 (can teach others)."""

    __tablename__ = "volunteer_skill"
    __table_args__ = (CheckConstraint("level BETWEEN 1 AND 3", name="level_range"),)

    volunteer_id: Mapped[int] = mapped_column(
        ForeignKey("volunteer.id", ondelete="CASCADE"), primary_key=True
    )
    skill_id: Mapped[int] = mapped_column(ForeignKey("skill.id"), primary_key=True)
    level: Mapped[int] = mapped_column(default=2)

    volunteer: Mapped[Volunteer] = relationship(back_populates="skills")
    skill: Mapped[Skill] = relationship()


class VolunteerAvailability(Base):
    """A part of the week the volunteer is usually free."""

    __tablename__ = "volunteer_availability"

    volunteer_id: Mapped[int] = mapped_column(
        ForeignKey("volunteer.id", ondelete="CASCADE"), primary_key=True
    )
    slot: Mapped[AvailabilitySlot] = mapped_column(enum_column(AvailabilitySlot), primary_key=True)


class VolunteerAbsence(Base):
    """Dates the volunteer is away (exams, home town), inclusive."""

    __tablename__ = "volunteer_absence"
    __table_args__ = (CheckConstraint("first_day <= last_day", name="ordered_days"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    volunteer_id: Mapped[int] = mapped_column(
        ForeignKey("volunteer.id", ondelete="CASCADE"), index=True
    )
    first_day: Mapped[date] = mapped_column(Date)
    last_day: Mapped[date] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(String(200))


keep_search_text(Volunteer, "full_name", "school_or_unit")
