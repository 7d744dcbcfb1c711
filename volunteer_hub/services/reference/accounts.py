"""Accounts: creating users, checking passwords, issuing and resolving API tokens."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from volunteer_hub.models import ApiToken, Commune, Role, User, UserSession, utcnow
from volunteer_hub.phones import PhoneError, parse_phone
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
    phone: str | None = None,
) -> User:
    """Create an account; coordinators need at least one commune, partners no password.

    ``phone`` (optional) is a Vietnamese mobile: the coordinator's contact in the SMS to a
    minor's guardian about the drives they create.
    """
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
    mobile = account_phone(phone)
    user = User(
        phone=mobile,
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


def account_phone(raw: str | None) -> str | None:
    """An account's phone as E.164, or None when none is given; only a Vietnamese mobile."""
    if not (raw or "").strip():
        return None
    try:
        return parse_phone(raw or "", mobile_only=True).e164
    except PhoneError as exc:
        raise AccountError(str(exc)) from exc


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


def _check_password_length(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(
            _l("The password must have at least %(n)d characters.", n=MIN_PASSWORD_LENGTH)
        )
    if len(password) > 200:
        raise AccountError(_l("The password must have at most %(n)d characters.", n=200))


def _sign_out_everywhere(session: Session, user: User) -> None:
    """Void every session of the account: its cookies fail on their next request."""
    user.session_version += 1
    session.execute(
        update(UserSession)
        .where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
        .values(ended_at=utcnow())
    )


def set_password(
    session: Session,
    user: User,
    password: str,
    *,
    actor: User | None = None,
    must_change: bool = False,
    ip: str | None = None,
) -> None:
    """Change a password and sign the account out everywhere (audited; the caller commits)."""
    _check_password_length(password)
    user.password_hash = generate_password_hash(password)
    user.must_change_password = must_change
    _sign_out_everywhere(session, user)
    audit.record(
        session,
        action="password_reset" if must_change else "password_change",
        entity="user",
        entity_id=user.id,
        user=actor,
        actor=None if actor else "cli",
        ip=ip,
    )


def change_own_password(
    session: Session, user: User, current: str, new: str, *, ip: str | None = None
) -> None:
    """Let a signed-in person change their password, proving they know the current one."""
    if not user.password_hash or not check_password_hash(user.password_hash, current):
        raise AccountError(_l("The current password is wrong."))
    if current == new:
        raise AccountError(_l("The new password must differ from the current one."))
    set_password(session, user, new, actor=user, ip=ip)


def one_time_password() -> str:
    """Return a random password to hand over once (about 80 bits, easy to type)."""
    return "-".join(secrets.token_hex(2) + secrets.token_hex(1)[:1] for _ in range(4))


def reset_password(session: Session, user: User, *, actor: User | None = None) -> str:
    """Give the account a one-time password, to be replaced at its next sign-in; return it."""
    if user.role is Role.PARTNER:
        raise AccountError(_l("Partner apps have no password: they use API tokens."))
    password = one_time_password()
    set_password(session, user, password, actor=actor, must_change=True)
    return password


def _would_leave_no_admin(session: Session, user: User) -> bool:
    others = session.scalar(
        select(func.count())
        .select_from(User)
        .where(User.role == Role.ADMIN, User.active.is_(True), User.id != user.id)
    )
    return user.role is Role.ADMIN and user.active and not others


def set_active(session: Session, user: User, active: bool, *, actor: User | None = None) -> bool:
    """Deactivate or reactivate an account; return True when it changed (audited).

    Deactivation takes effect on the next request of every session and API token of the
    account: sessions are voided here and tokens check ``active`` on every call.
    """
    if user.active == active:
        return False
    if not active:
        if actor is not None and actor.id == user.id:
            raise AccountError(_l("You cannot deactivate your own account."))
        if _would_leave_no_admin(session, user):
            raise AccountError(_l("This is the last active admin: make another admin first."))
        _sign_out_everywhere(session, user)
    user.active = active
    audit.record(
        session,
        action="activate" if active else "deactivate",
        entity="user",
        entity_id=user.id,
        user=actor,
        actor=None if actor else "cli",
    )
    return True


def update_user(
    session: Session,
    user: User,
    *,
    name: str,
    role: Role,
    commune_codes: list[str] | tuple[str, ...],
    actor: User | None = None,
    phone: str | None = None,
) -> None:
    """Change an account's name, role and communes, and its phone when ``phone`` is given
    ("" removes it); audited, the caller commits."""
    if not name.strip():
        raise AccountError(_l("The name must not be empty."))
    communes = _communes(session, commune_codes)
    if role is Role.COORDINATOR and not communes:
        raise AccountError(_l("A coordinator needs at least one commune."))
    if role is not Role.ADMIN and user.role is Role.ADMIN:
        if actor is not None and actor.id == user.id:
            raise AccountError(_l("You cannot take the admin role from yourself."))
        if _would_leave_no_admin(session, user):
            raise AccountError(_l("This is the last active admin: make another admin first."))
    if role is not Role.PARTNER and user.role is Role.PARTNER and not user.password_hash:
        raise AccountError(_l("A partner app has no password: create a new account instead."))
    mobile = account_phone(phone) if phone is not None else user.phone
    before = {"role": user.role.value, "communes": sorted(c.code for c in user.communes)}
    phone_changed = mobile != user.phone
    user.phone = mobile
    user.name = name.strip()[:120]
    user.role = role
    user.communes = communes if role is Role.COORDINATOR else []
    after = {"role": role.value, "communes": sorted(c.code for c in user.communes)}
    if after != before:
        # A narrower scope must hold from the next request on: end the open sessions.
        _sign_out_everywhere(session, user)
    audit.record(
        session,
        action="update",
        entity="user",
        entity_id=user.id,
        user=actor,
        actor=None if actor else "cli",
        # The number itself stays out of the audit log: only that it changed.
        detail={"before": before, "after": after, **({"phone": True} if phone_changed else {})},
    )


def _session_key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def start_session(session: Session, user: User) -> str:
    """Record a new signed-in browser; return the random key its cookie carries."""
    key = secrets.token_urlsafe(32)
    session.add(UserSession(user_id=user.id, key_hash=_session_key_hash(key)))
    session.flush()
    return key


def is_session_live(session: Session, user_id: int, key: str | None) -> bool:
    """Return True when that cookie key belongs to a session of the user not yet ended."""
    if not key or len(key) > 100:
        return False
    found = session.scalar(
        select(UserSession.id).where(
            UserSession.key_hash == _session_key_hash(key),
            UserSession.user_id == user_id,
            UserSession.ended_at.is_(None),
        )
    )
    return found is not None


def end_session(session: Session, key: str | None) -> None:
    """End the session with that key (sign-out): a replayed copy of its cookie fails."""
    if not key:
        return
    session.execute(
        update(UserSession)
        .where(UserSession.key_hash == _session_key_hash(key), UserSession.ended_at.is_(None))
        .values(ended_at=utcnow())
    )


def authenticate(session: Session, email: str, password: str) -> User | None:
    """Return the active account with that email and password, else None."""
    user = session.scalar(select(User).where(User.email == normalize_email(email)))
    if user is None or user.password_hash is None:
        check_password_hash(_DUMMY_HASH, password)
        return None
    if not check_password_hash(user.password_hash, password) or not user.active:
        return None
    return user


def failed_login_actor(session: Session, typed: str) -> str:
    """Return what the audit keeps of a failed sign-in's email field.

    An existing account's email is kept as is; anything else may be a password typed into the
    wrong field, so only its domain (or a short hash when it has none) is kept.
    """
    email = normalize_email(typed)[:254]
    if find_user(session, email) is not None:
        return email
    _, at, domain = email.rpartition("@")
    if at and domain and " " not in domain:
        return f"?@{domain[:120]}"
    return "?#" + hashlib.sha256(email.encode()).hexdigest()[:12]


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


def list_api_tokens(session: Session, user: User | None = None) -> list[ApiToken]:
    """Return the tokens (of one account, or all), oldest first."""
    statement = select(ApiToken).order_by(ApiToken.id)
    if user is not None:
        statement = statement.where(ApiToken.user_id == user.id)
    return list(session.scalars(statement))


def revoke_api_token(
    session: Session, token: ApiToken, *, actor: User | None = None, now: datetime | None = None
) -> bool:
    """Revoke a token: its next call is refused; return False when it already was (audited)."""
    if token.revoked_at is not None:
        return False
    token.revoked_at = now or utcnow()
    audit.record(
        session,
        action="revoke",
        entity="api_token",
        entity_id=token.id,
        user=actor,
        actor=None if actor else "cli",
        detail={"user": token.user.email, "name": token.name},
    )
    return True


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
