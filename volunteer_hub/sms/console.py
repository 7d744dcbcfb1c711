"""The console backend: nothing leaves the machine; messages are logged and kept in the outbox."""

from __future__ import annotations

import logging
import re
import uuid
from datetime import datetime

from volunteer_hub.sms import ProviderMessage, SendResult

logger = logging.getLogger("volunteer_hub.sms.console")


#: Stand-alone runs of 4 to 8 digits: phone codes (the log cannot tell them from other numbers).
_CODE = re.compile(r"(?<!\d)\d{4,8}(?!\d)")
_LINK = re.compile(r"/s/([A-Za-z0-9]{8,32})")


class ConsoleGateway:
    """Log each message instead of sending it; the admin "SMS outbox" page shows them all.

    The log shows no live secret: personal link codes and phone codes are masked, unless
    ``reveal`` (only the demo, whose people are invented, so its links can be tried).
    """

    name = "console"
    max_concurrency = 1

    def __init__(self, *, reveal: bool = False) -> None:
        self.reveal = reveal

    def send(self, to: str, body: str) -> SendResult:
        """Log the message and return a made-up id."""
        sid = "CONSOLE" + uuid.uuid4().hex[:25].upper()
        shown = body if self.reveal else self.masked(body)
        # The attribute keeps the app's log redaction from masking the demo's links again.
        logger.info("SMS to %s (%s):\n%s", to, sid, shown, extra={"vh_reveal_links": self.reveal})
        return SendResult(provider_sid=sid, status="sent")

    @staticmethod
    def masked(body: str) -> str:
        """Return the body with its link codes and phone codes masked."""
        body = _LINK.sub(lambda m: "/s/" + "•" * (len(m.group(1)) - 2) + m.group(1)[-2:], body)
        return _CODE.sub(lambda m: "•" * len(m.group(0)), body)

    def find_sent(self, to: str, since: datetime) -> list[ProviderMessage] | None:
        """The log is not a list anyone can query: a crashed send is held for a person."""
        return None
