"""What people read for the SMS pages' coded values: message statuses, answers, opt-out sources."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l

SMS_LABELS: dict[str, dict[str, Any]] = {
    "status": {
        "queued": _l("Queued"),
        "sending": _l("Sending"),
        "sent": _l("Sent"),
        "delivered": _l("Delivered"),
        "undelivered": _l("Not delivered"),
        "failed": _l("Failed"),
        "held": _l("Held: sent or not?"),
        "cancelled": _l("Cancelled"),
    },
    "answer": {
        "accept": _l("accepted"),
        "decline": _l("declined"),
        "confirm": _l("confirmed"),
        "cancel": _l("cancelled"),
        "reschedule": _l("asked for another time"),
        "done": _l("done"),
        "feedback": _l("feedback"),
    },
    "opt_out_source": {
        "link": _l("personal link"),
        "sms": _l("SMS reply (STOP)"),
        "coordinator": _l("coordinator"),
        "provider": _l("the provider (opted out there)"),
        "invalid_number": _l("invalid number"),
    },
}


def sms_label(kind: str, value: object) -> str:
    """Return what a person reads for a coded value (the code itself when unknown)."""
    key = getattr(value, "value", value)
    found = SMS_LABELS.get(kind, {}).get(key)
    return str(found) if found is not None else str(key)
