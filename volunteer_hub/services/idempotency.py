"""Idempotency keys: a retried POST with the same key gets the first answer, not a second record.

The first call with a key claims a row (``status`` None) before it does anything; the unique
constraint on (token, key) makes one of two concurrent calls win, the other sees the claim.
When the first call ends, its answer (status, body, ``Location``) is stored in the row. A call
that failed on our side (5xx) releases its claim, so the retry runs again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from volunteer_hub.models import IdempotencyKey, utcnow

#: How long a key holds: a retry within this time gets the first answer.
KEY_LIFETIME = timedelta(hours=24)
MAX_KEY_LENGTH = 255


def valid_key(key: str) -> bool:
    """Return True for a key of 1 to 255 visible ASCII characters."""
    return 0 < len(key) <= MAX_KEY_LENGTH and all(33 <= ord(ch) <= 126 for ch in key)


def fingerprint(method: str, path: str, body: bytes) -> str:
    """Return the SHA-256 that tells one call from another under the same key."""
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


@dataclass(frozen=True)
class Claim:
    """What a call with a key may do: run (``record`` is its new claim) or answer ``previous``."""

    record: IdempotencyKey | None = None
    previous: IdempotencyKey | None = None


def _find(session: Session, token_id: int, key: str) -> IdempotencyKey | None:
    return session.scalar(
        select(IdempotencyKey).where(IdempotencyKey.token_id == token_id, IdempotencyKey.key == key)
    )


def claim(
    session: Session, token_id: int, key: str, print_: str, *, now: datetime | None = None
) -> Claim:
    """Claim ``key`` for this call (committed), or return the row of the call that has it."""
    now = now or utcnow()
    existing = _find(session, token_id, key)
    if existing is not None and existing.created_at <= now - KEY_LIFETIME:
        session.delete(existing)  # expired, not yet swept by the worker: a new call
        session.commit()
        existing = None
    if existing is not None:
        return Claim(previous=existing)
    record = IdempotencyKey(token_id=token_id, key=key, fingerprint=print_, created_at=now)
    session.add(record)
    try:
        session.commit()
    except IntegrityError:  # another call with the same key claimed it first
        session.rollback()
        winner = _find(session, token_id, key)
        if winner is None:  # and was released already: let the caller retry
            return Claim()
        return Claim(previous=winner)
    return Claim(record=record)


def finish(
    session: Session,
    record_id: int,
    *,
    status: int,
    content_type: str | None,
    body: str,
    location: str | None,
) -> None:
    """Store the first answer to a claimed key (or release the claim on a 5xx)."""
    session.rollback()  # whatever the view left unfinished is not ours to commit
    record = session.get(IdempotencyKey, record_id)
    if record is None:
        return
    if status >= 500:
        session.delete(record)
    else:
        record.status = status
        record.content_type = content_type
        record.body = body
        record.location = location
    session.commit()


def release(session: Session, record_id: int) -> None:
    """Drop a claim whose call raised: the retry runs again."""
    session.rollback()
    session.execute(delete(IdempotencyKey).where(IdempotencyKey.id == record_id))
    session.commit()


def expire_keys(session: Session, *, now: datetime | None = None) -> int:
    """Delete the keys older than :data:`KEY_LIFETIME`; return how many."""
    cutoff = (now or utcnow()) - KEY_LIFETIME
    result = session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at <= cutoff))
    session.commit()
    return int(result.rowcount or 0)
