"""Accounts: creating users, checking passwords, issuing and resolving API tokens."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from volunteer_hub.models import ApiToken, Commune, Role, User, utcnow
from volunteer_hub.services import audit

MIN_PASSWORD_LENGTH = 10
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
# Spent on unknown emails too, so a login's timing does not tell which accounts exist.
_DUMMY_HASH = generate_password_hash("not-a-real-password")
#: Bearer tokens start with this, so a leaked one is easy to recognise and search for.
TOKEN_PREFIX = "vh_"  # noqa: S105 (a public prefix, not a secret)


class AccountError(ValueError):
    """An account could not be created or changed; the message says why."""


def normalize_email(email: str) -> str:
    """Return the email trimmed and lower-cased, as accounts are keyed."""
    return email.strip().lower()


def create_user(
    session: Session,
    *,
    email: str,
    name: str,
    role: Role,
    password: str | None,
    commune_codes: list[str] | tuple[str, ...] = (),
    allow_weak_password: bool = False,
    actor: User | None = None,
) -> User:
    """Create an account; coordinators need at least one commune, partners no password."""
    email = normalize_email(email)
    if not _EMAIL.match(email) or len(email) > 254:
        raise AccountError(_l("Not a valid email address: %(email)s", email=email))
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise AccountError(_l("An account with the email %(email)s already exists.", email=email))
    if not name.strip():
        raise AccountError(_l("The name must not be empty."))
    if role is not Role.PARTNER:
        if not password:
            raise AccountError(_l("A password is required."))
        if len(password) < MIN_PASSWORD_LENGTH and not allow_weak_password:
            raise AccountError(
                _l("The password must have at least %(n)d characters.", n=MIN_PASSWORD_LENGTH)
            )
    communes = _communes(session, commune_codes)
    if role is Role.COORDINATOR and not communes:
        raise AccountError(_l("A coordinator needs at least one commune."))
    user = User(
        email=email,
        name=name.strip()[:120],
        role=role,
        password_hash=generate_password_hash(password) if password else None,
        communes=communes,
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        action="create",
        entity="user",
        entity_id=user.id,
        user=actor,
        actor=None if actor else "cli",
        detail={"role": role.value, "communes": [c.code for c in communes]},
    )
    return user


def _communes(session: Session, codes: list[str] | tuple[str, ...]) -> list[Commune]:
    codes = [c.strip() for c in codes if c.strip()]
    if not codes:
        return []
    found = {c.code: c for c in session.scalars(select(Commune).where(Commune.code.in_(codes)))}
    missing = [c for c in codes if c not in found]
    if missing:
        raise AccountError(
            _l(
                "Unknown commune code(s): %(codes)s "
                "(load places first: volunteer-hub places load).",
                codes=", ".join(missing),
            )
        )
    return [found[c] for c in dict.fromkeys(codes)]


def set_password(session: Session, user: User, password: str) -> None:
    """Change a password and sign the account out everywhere."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(
            _l("The password must have at least %(n)d characters.", n=MIN_PASSWORD_LENGTH)
        )
    user.password_hash = generate_password_hash(password)
    user.session_version += 1


def authenticate(session: Session, email: str, password: str) -> User | None:
    """Return the active account with that email and password, else None."""
    user = session.scalar(select(User).where(User.email == normalize_email(email)))
    if user is None or user.password_hash is None:
        check_password_hash(_DUMMY_HASH, password)
        return None
    if not check_password_hash(user.password_hash, password) or not user.active:
        return None
    return user


def hash_token(token: str) -> str:
    """Return the stored form of a bearer token (tokens are random, so SHA-256 suffices)."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    """A new bearer token: the secret is shown once and never stored."""

    token: str
    record: ApiToken


def create_api_token(
    session: Session,
    user: User,
    *,
    name: str = "api",
    expires_in: timedelta | None = None,
) -> IssuedToken:
    """Issue a bearer token that acts with the user's rights."""
    if not user.active:
        raise AccountError(_l("The account %(email)s is deactivated.", email=user.email))
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    record = ApiToken(
        user=user,
        name=name[:120],
        token_hash=hash_token(secret),
        prefix=secret[:10],
        expires_at=utcnow() + expires_in if expires_in else None,
    )
    session.add(record)
    session.flush()
    audit.record(
        session, action="create", entity="api_token", entity_id=record.id, user=user, actor="cli"
    )
    return IssuedToken(token=secret, record=record)


def user_for_token(session: Session, token: str, *, now: datetime | None = None) -> User | None:
    """Return the active account a bearer token acts for, or None."""
    now = now or utcnow()
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    record = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    if record is None or record.revoked_at is not None:
        return None
    if record.expires_at is not None and record.expires_at <= now:
        return None
    if not record.user.active:
        return None
    # Written at most once a minute: a busy partner app should not write on every call.
    if record.last_used_at is None or now - record.last_used_at > timedelta(minutes=1):
        record.last_used_at = now
        session.commit()
    return record.user


def find_user(session: Session, email: str) -> User | None:
    """Return the account with that email, or None."""
    return session.scalar(select(User).where(func.lower(User.email) == normalize_email(email)))
