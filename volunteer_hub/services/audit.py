"""The audit log: who viewed or changed personal data."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from volunteer_hub.models import AuditEvent, User


def record(
    session: Session,
    *,
    action: str,
    entity: str,
    entity_id: object = None,
    user: User | None = None,
    actor: str | None = None,
    commune_id: int | None = None,
    ip: str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add an audit event to the session; the caller's transaction commits it."""
    event = AuditEvent(
        user_id=user.id if user is not None else None,
        actor=actor or (user.email if user is not None else "system"),
        action=action,
        entity=entity,
        entity_id=None if entity_id is None else str(entity_id),
        commune_id=commune_id,
        ip=ip,
        detail=detail or {},
    )
    session.add(event)
    return event
