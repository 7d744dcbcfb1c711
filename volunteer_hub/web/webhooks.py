"""Twilio's webhooks: inbound SMS and delivery reports, accepted only with a valid signature."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Blueprint, Response, abort, current_app, request

from volunteer_hub.extensions import csrf, db, limiter
from volunteer_hub.models import MessageStatus
from volunteer_hub.services.messaging import delivery, inbound, outbox
from volunteer_hub.services.validation import clean_text
from volunteer_hub.sms.twilio import SIGNATURE_HEADER, is_valid_signature, twiml_reply

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")
# Twilio cannot send a CSRF token; the signature is what proves the request is Twilio's.
csrf.exempt(bp)
limiter.exempt(bp)

logger = logging.getLogger("volunteer_hub.webhooks")


def signed_urls() -> list[str]:
    """Return the URL Twilio signed for this request: ``VH_PUBLIC_BASE_URL`` plus the path.

    Only the configured public address counts. The request's own URL is never tried: its
    host comes from the ``Host`` (or forwarded) header, which the caller chooses, so a
    signature Twilio made for another site would otherwise be accepted here. Without a
    public address nothing is accepted.
    """
    query = request.query_string.decode("latin-1")
    path = request.path + (f"?{query}" if query else "")
    base = str(current_app.config.get("PUBLIC_BASE_URL") or "").rstrip("/")
    return [base + path] if base else []


def _signed_form() -> Any:
    """The form exactly as Twilio sent and signed it (``request.form`` has NUL bytes dropped)."""
    return getattr(request, "raw_form", request.form)


def twilio_signed(view: Callable[..., Any]) -> Callable[..., Any]:
    """Answer 403 unless the request carries Twilio's signature for our public URL."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        token = str(current_app.config.get("TWILIO_AUTH_TOKEN") or "")
        signature = request.headers.get(SIGNATURE_HEADER)
        if not is_valid_signature(token, signed_urls(), _signed_form(), signature):
            logger.warning("webhook %s refused: missing or wrong signature", request.path)
            abort(403)
        return view(*args, **kwargs)

    return wrapped


def _required(name: str) -> str:
    """Return an identifier field (a sid, a status, a number); 400 when missing or not one."""
    value = (request.form.get(name) or "").strip()
    # Identifiers are short printable text; a NUL byte would also make PostgreSQL refuse it.
    if not value or len(value) > 64 or not value.isprintable():
        abort(400)
    return value


def _optional(name: str, max_length: int) -> str | None:
    """Return a free-text field cleaned of control characters (NUL included), or None."""
    try:
        return clean_text(request.form.get(name) or "")[:max_length] or None
    except ValueError:  # text that is not Unicode
        abort(400)


@bp.post("/twilio/sms")
@twilio_signed
def twilio_sms():  # type: ignore[no-untyped-def]
    """Handle a reply (where two-way SMS works) and answer with TwiML."""
    sid = (request.form.get("MessageSid") or request.form.get("SmsSid") or "").strip()
    if not sid or len(sid) > 64 or not sid.isprintable():
        abort(400)
    from_phone = _required("From")
    if not outbox.E164.match(from_phone):
        abort(400)
    result = inbound.handle_inbound(
        db.session,
        provider_sid=sid,
        from_phone=from_phone,
        to_phone=_optional("To", 20),
        body=_optional("Body", 1600) or "",
    )
    db.session.commit()
    return Response(twiml_reply(result.reply), mimetype="application/xml")


@bp.post("/twilio/status")
@twilio_signed
def twilio_status():  # type: ignore[no-untyped-def]
    """Apply a delivery report (queued, sent, delivered, undelivered, failed + error code)."""
    sid = _required("MessageSid")
    status = _required("MessageStatus")
    change = delivery.apply_status(
        db.session,
        provider_sid=sid,
        provider_status=status,
        error_code=_optional("ErrorCode", 20),
        error_message=_optional("ErrorMessage", 500),
    )
    db.session.commit()
    if change.message is None:
        # Twilio can report before the worker stored the id; nothing to update then.
        logger.info("status %s for unknown message %s ignored", status, sid)
    elif change.changed and change.message.status in (
        MessageStatus.FAILED,
        MessageStatus.UNDELIVERED,
    ):
        flagged = delivery.failing_numbers(db.session)
        if any(f.phone == change.message.to_phone for f in flagged):
            logger.warning(
                "number of message %s keeps failing; flagged on the SMS outbox page",
                change.message.id,
            )
    return Response(status=204)
