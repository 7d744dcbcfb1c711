"""Log records never carry a phone number or a live personal link.

SQL parameters are hidden by the engine (``hide_parameters``); what code logs on purpose goes
through here: every record's message, traceback and stack have their phone numbers cut to
their last three digits (``+84*******678``) and their personal link codes masked
(``/s/••••••••K7``), whatever handler (gunicorn's, the worker's, pytest's) later writes it.
PostgreSQL also quotes the row in an error's ``DETAIL`` line (``Key (phone)=(+84…) already
exists``, ``Failing row contains (…, name, phone, notes)``) whatever the engine hides, so the
values of those lines are hidden too; the column names stay, to debug with.
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


#: PostgreSQL's DETAIL lines that quote the values of a row or a key (unique, foreign key,
#: exclusion, not-null and check violations): the values go, the shape stays.
_DETAIL_KEY = re.compile(r"^(\s*DETAIL:\s+Key \([^)\n]*\)=\()[^\n]*(\)[^()\n]*)$", re.MULTILINE)
_DETAIL_ROW = re.compile(r"^(\s*DETAIL:\s+Failing row contains \()[^\n]*(\)\.?)$", re.MULTILINE)
HIDDEN = "…"

#: ``extra={REVEAL_LINKS: True}`` on a log call keeps its links (the demo's console only).
REVEAL_LINKS = "vh_reveal_links"


def redact(text: str, *, links: bool = True) -> str:
    """Return ``text`` with phones, quoted rows and (unless ``links`` is False) links masked."""
    text = _DETAIL_KEY.sub(rf"\g<1>{HIDDEN}\g<2>", text)
    text = _DETAIL_ROW.sub(rf"\g<1>{HIDDEN}\g<2>", text)
    text = PHONE.sub(_mask_phone, text)
    return mask_links(text) if links else text


_plain_formatter = logging.Formatter()


def redacted_traceback(exc_info: Any) -> str:
    """Return an exception's traceback as the standard formatter writes it, redacted."""
    return redact(_plain_formatter.formatException(exc_info))


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
        # A traceback quotes exception messages (a database error's DETAIL with a phone);
        # formatters write exc_text when it is set, so it is redacted once, here.
        if record.exc_info and not record.exc_text:
            record.exc_text = redacted_traceback(record.exc_info)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return record

    logging.setLogRecordFactory(factory)
    _installed = True
