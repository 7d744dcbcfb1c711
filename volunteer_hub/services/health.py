"""Liveness of what the service depends on."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session


def database_ok(session: Session) -> bool:
    """Return True when the database answers a trivial query."""
    try:
        session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        session.rollback()
        return False
    session.rollback()
    return True
