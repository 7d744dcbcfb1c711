"""What volunteers help with: skills and the service catalogue."""

from __future__ import annotations

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from volunteer_hub.models.base import Base


class Skill(Base):
    """A skill a volunteer has and a service needs (VNeID, e-payment, ...)."""

    __tablename__ = "skill"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name_vi: Mapped[str] = mapped_column(String(120))
    name_en: Mapped[str] = mapped_column(String(120))

    def name(self, locale: str) -> str:
        """Return the name in the given locale, Vietnamese by default."""
        return self.name_en if locale == "en" else self.name_vi


class Service(Base):
    """An item of the catalogue: what a household can ask for, how long it usually takes."""

    __tablename__ = "service"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name_vi: Mapped[str] = mapped_column(String(160))
    name_en: Mapped[str] = mapped_column(String(160))
    # What the household should have ready (chip ID card, own phone, ...), shown on the form
    # and in SMS.
    bring_vi: Mapped[str | None] = mapped_column(String(300))
    bring_en: Mapped[str | None] = mapped_column(String(300))
    usual_min: Mapped[int]
    skill_id: Mapped[int] = mapped_column(ForeignKey("skill.id"))
    active: Mapped[bool] = mapped_column(default=True)
    sort_order: Mapped[int] = mapped_column(default=0)

    skill: Mapped[Skill] = relationship()

    def name(self, locale: str) -> str:
        """Return the name in the given locale, Vietnamese by default."""
        return self.name_en if locale == "en" else self.name_vi

    def bring(self, locale: str) -> str | None:
        """Return what to have ready, in the given locale."""
        return self.bring_en if locale == "en" else self.bring_vi
