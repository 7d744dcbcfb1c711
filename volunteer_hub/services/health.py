"""Liveness of what the service depends on."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session


def ratelimit_store_ok(storage: Any) -> bool:
    """Return True when the rate-limit store answers (the in-process one always does)."""
    try:
        return bool(storage.check())
    except Exception:  # noqa: BLE001 - any failure of the store means it is away
        return False


def database_ok(session: Session) -> bool:
    """Return True when the database answers a trivial query."""
    try:
        session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        session.rollback()
        return False
    session.rollback()
    return True
