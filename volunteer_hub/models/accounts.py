"""People who sign in: admins, coordinators and partner apps, and their API tokens."""

from __future__ import annotations

import enum
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Column, ForeignKey, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from volunteer_hub.models.base import Base, enum_column, utcnow
from volunteer_hub.models.places import Commune


class Role(enum.StrEnum):
    """What a signed-in account may do."""

    ADMIN = "admin"  # everything, every commune
    COORDINATOR = "coordinator"  # plans drives for the communes in its scope
    PARTNER = "partner"  # a partner app: may only submit help requests through the API


user_commune = Table(
    "user_commune",
    Base.metadata,
    Column("user_id", ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True),
    Column("commune_id", ForeignKey("commune.id", ondelete="CASCADE"), primary_key=True),
)


class User(UserMixin, Base):
    """An account that signs in with a password or acts through an API token."""

    # "user" is a reserved word in PostgreSQL.
    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    # None for accounts that never sign in with a password (partner apps).
    password_hash: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(enum_column(Role))
    active: Mapped[bool] = mapped_column(default=True)
    locale: Mapped[str | None] = mapped_column(String(8))
    # E.164 mobile, optional: a coordinator's contact in the SMS to a minor's guardian.
    phone: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]
    # Bumped on password change or deactivation: sessions signed in before are void.
    session_version: Mapped[int] = mapped_column(default=1)
    # Set by an admin's password reset: the one-time password must be replaced at sign-in.
    must_change_password: Mapped[bool] = mapped_column(default=False)

    communes: Mapped[list[Commune]] = relationship(secondary=user_commune, order_by=Commune.name)
    tokens: Mapped[list[ApiToken]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )

    @property
    def is_active(self) -> bool:  # Flask-Login reads this
        return self.active

    def get_id(self) -> str:  # Flask-Login stores this in the session
        return f"{self.id}:{self.session_version}"

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    @property
    def is_coordinator(self) -> bool:
        return self.role is Role.COORDINATOR

    @property
    def commune_ids(self) -> set[int]:
        return {c.id for c in self.communes}

    def can_see_commune(self, commune_id: int | None) -> bool:
        """Return True when this account may see records of that commune."""
        if self.is_admin:
            return True
        return self.is_coordinator and commune_id is not None and commune_id in self.commune_ids


class ApiToken(Base):
    """A bearer token for scripts and partner apps; only its SHA-256 is stored."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(120))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The first characters, so a person can tell tokens apart without the secret.
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(back_populates="tokens")


class UserSession(Base):
    """One signed-in browser: its cookie carries a random key whose SHA-256 is kept here.

    Signing out ends the row, so a copy of the cookie taken before is worthless afterwards.
    """

    __tablename__ = "user_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]


class IdempotencyKey(Base):
    """A partner's ``Idempotency-Key`` and the first answer to it, replayed on a retry.

    One row per token and key (the unique constraint makes one of two concurrent calls with
    the same key win); ``status`` is None while the first call is still running. Rows older
    than 24 hours no longer count and the worker deletes them (job ``idempotency-expire``).
    """

    __tablename__ = "idempotency_key"
    __table_args__ = (UniqueConstraint("token_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token_id: Mapped[int] = mapped_column(ForeignKey("api_token.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    # SHA-256 of the method, the path and the body: the same key with another call is refused.
    fingerprint: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    status: Mapped[int | None]
    content_type: Mapped[str | None] = mapped_column(String(100))
    body: Mapped[str | None] = mapped_column(Text)
    location: Mapped[str | None] = mapped_column(String(500))
