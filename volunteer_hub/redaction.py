"""Log records never carry a phone number or a live personal link.

SQL parameters are hidden by the engine (``hide_parameters``); what code logs on purpose goes
through here: every record's message has its phone numbers cut to their last three digits
(``+84*******678``) and its personal link codes masked (``/s/••••••••K7``), whatever handler
(gunicorn's, the worker's, pytest's) later writes it.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from volunteer_hub.services.messaging.sealing import mask_links

#: E.164 numbers and Vietnamese national ones (0 and nine digits), not inside longer digit runs.
PHONE = re.compile(
    r"(?<![\d\w])(\+\d{2})(\d{5,10})(\d{3})(?!\d)|(?<![\d\w])(0)(\d{6})(\d{3})(?!\d)"
)


def _mask_phone(match: re.Match[str]) -> str:
    head, middle, tail = (
        match.group(1, 2, 3) if match.group(1) is not None else match.group(4, 5, 6)
    )
    return head + "*" * len(middle) + tail


#: ``extra={REVEAL_LINKS: True}`` on a log call keeps its links (the demo's console only).
REVEAL_LINKS = "vh_reveal_links"


def redact(text: str, *, links: bool = True) -> str:
    """Return ``text`` with phone numbers and (unless ``links`` is False) link codes masked."""
    text = PHONE.sub(_mask_phone, text)
    return mask_links(text) if links else text


_installed = False


def install_log_redaction() -> None:
    """Make every log record of this process redact its message (idempotent)."""
    global _installed
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        plain = record.getMessage

        def get_message() -> str:
            return redact(plain(), links=not getattr(record, REVEAL_LINKS, False))

        record.getMessage = get_message  # type: ignore[method-assign]
        return record

    logging.setLogRecordFactory(factory)
    _installed = True
