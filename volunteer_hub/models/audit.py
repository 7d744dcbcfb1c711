"""Who viewed or changed personal data, and when."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from volunteer_hub.models.base import Base, utcnow


class AuditEvent(Base):
    """One line of the audit log; never updated, never deleted by the app."""

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    # Who acted, readable even after the account is gone: an email, "link:42", "system", "cli".
    actor: Mapped[str] = mapped_column(String(254))
    # "view", "create", "update", "delete", "login", "login_failed", "publish", "purge", ...
    action: Mapped[str] = mapped_column(String(40))
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str | None] = mapped_column(String(40))
    commune_id: Mapped[int | None] = mapped_column(ForeignKey("commune.id"))
    ip: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
