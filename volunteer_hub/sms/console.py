"""The console backend: nothing leaves the machine; messages are logged and kept in the outbox."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime

from volunteer_hub.sms import ProviderMessage, SendResult

logger = logging.getLogger("volunteer_hub.sms.console")


class ConsoleGateway:
    """Log each message instead of sending it; the admin "SMS outbox" page shows them all."""

    name = "console"
    max_concurrency = 1

    def send(self, to: str, body: str) -> SendResult:
        """Log the message and return a made-up id."""
        sid = "CONSOLE" + uuid.uuid4().hex[:25].upper()
        logger.info("SMS to %s (%s):\n%s", to, sid, body)
        return SendResult(provider_sid=sid, status="sent")

    def find_sent(self, to: str, since: datetime) -> list[ProviderMessage] | None:
        """The log is not a list anyone can query: a crashed send is held for a person."""
        return None
