"""Where people live: provinces, communes (wards, special zones) and hamlets."""

from __future__ import annotations

import enum
import re
import unicodedata
from collections.abc import Iterable

from sqlalchemy import Float, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from volunteer_hub.models.base import Base, enum_column

_DIGITS = re.compile(r"(\d+)")


def natural_key(text: str) -> tuple[tuple[int, str, int], ...]:
    """Sort key that reads numbers as numbers: "Thôn 2" before "Thôn 10"."""
    parts = []
    for index, part in enumerate(_DIGITS.split(unicodedata.normalize("NFC", text).casefold())):
        if index % 2:
            parts.append((1, "", int(part)))
        elif part:
            parts.append((0, part.strip(), 0))
    return tuple(parts)


def in_natural_order(hamlets: Iterable[Hamlet]) -> list[Hamlet]:
    """Return hamlets by name the way people count them (1, 2, … 10), then by id."""
    return sorted(hamlets, key=lambda h: (natural_key(h.name), h.id))


class Province(Base):
    """One of Vietnam's 34 provinces and centrally run cities (since July 2025)."""

    __tablename__ = "province"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(8), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    short_name: Mapped[str] = mapped_column(String(120))
    lat: Mapped[float | None] = mapped_column(Float)
    lng: Mapped[float | None] = mapped_column(Float)

    communes: Mapped[list[Commune]] = relationship(
        back_populates="province", order_by="Commune.name"
    )


class Commune(Base):
    """A commune, ward or special zone: the unit a coordinator is responsible for."""

    __tablename__ = "commune"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(8), unique=True)
    province_id: Mapped[int] = mapped_column(ForeignKey("province.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    short_name: Mapped[str] = mapped_column(String(120))
    # "Xã", "Phường" or "Đặc khu", as the official name carries it.
    kind: Mapped[str] = mapped_column(String(32))
    # Approximate centroid: the fallback location when a household gives no pin.
    lat: Mapped[float | None] = mapped_column(Float)
    lng: Mapped[float | None] = mapped_column(Float)
    area_km2: Mapped[float | None] = mapped_column(Float)

    province: Mapped[Province] = relationship(back_populates="communes")
    hamlets: Mapped[list[Hamlet]] = relationship(
        back_populates="commune", order_by="Hamlet.name", cascade="all, delete-orphan"
    )

    @property
    def hamlets_in_order(self) -> list[Hamlet]:
        """The hamlets as people count them: Thôn 1, Thôn 2, … Thôn 10."""
        return in_natural_order(self.hamlets)

    def __str__(self) -> str:
        return self.name


class HamletKind(enum.StrEnum):
    """What a commune's subdivision is called locally."""

    HAMLET = "hamlet"  # thôn, bản, ấp
    RESIDENTIAL_GROUP = "residential_group"  # tổ dân phố


class Hamlet(Base):
    """A hamlet or residential group inside a commune."""

    __tablename__ = "hamlet"
    __table_args__ = (UniqueConstraint("commune_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    commune_id: Mapped[int] = mapped_column(ForeignKey("commune.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[HamletKind] = mapped_column(enum_column(HamletKind))
    lat: Mapped[float | None] = mapped_column(Float)
    lng: Mapped[float | None] = mapped_column(Float)

    commune: Mapped[Commune] = relationship(back_populates="hamlets")

    def __str__(self) -> str:
        return self.name
