"""The seam for a Vietnamese brand-name SMS provider's HTTP API.

Local providers (the carriers' own brand-name services and their resellers) send from a
registered sender name over an HTTP API, usually a JSON or form POST with an API key, and
answer with their own message id and error codes. Their APIs differ in field names only, so a
backend is a subclass of :class:`BrandNameGateway` that fills in three methods:

``request_for(to, body)``
    the URL, headers and JSON (or form) fields for one message. Most providers want the
    number as ``84912345678`` (E.164 without the plus): use :meth:`national_digits`.
``result_from(status_code, payload)``
    the provider's message id from a successful answer, or raise one of the gateway errors:
    :class:`~volunteer_hub.sms.TransientGatewayError` for "busy, try later",
    :class:`~volunteer_hub.sms.PermanentGatewayError` for a bad number or an unregistered
    template (``invalid_number=True`` or ``opted_out=True`` marks the recipient).
``find_sent(to, since)``
    optional: providers with a "sent messages" report can answer it so crashed sends are
    reconciled; the default (None) holds them for a coordinator instead.

Connection errors are mapped here once: no connection made → retry; a request that left but
got no answer → :class:`~volunteer_hub.sms.UncertainSendError` (never resent blindly).

Wire it without touching this package: ``VH_SMS_BACKEND=yourpackage.module:factory``, where
``factory(config)`` returns an instance (read the provider's key from your own ``VH_*``
setting). Delivery reports arrive on a webhook of the provider's design; map them onto
:func:`volunteer_hub.services.messaging.apply_status` the way ``web/webhooks.py`` does for
Twilio.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import requests

from volunteer_hub.sms import (
    GatewayError,
    ProviderMessage,
    SendResult,
    TransientGatewayError,
    UncertainSendError,
)


class BrandNameGateway:
    """Base of a brand-name provider's backend: subclass it and fill in the two hooks."""

    name = "brandname"
    max_concurrency = 4

    def __init__(self, *, timeout_s: float = 15.0, session: requests.Session | None = None) -> None:
        self.timeout_s = timeout_s
        self.session = session or requests.Session()

    @staticmethod
    def national_digits(e164: str) -> str:
        """Return ``+84912345678`` as ``84912345678``, the form most local APIs expect."""
        return e164.lstrip("+")

    def request_for(self, to: str, body: str) -> tuple[str, dict[str, str], dict[str, Any]]:
        """Return the URL, headers and JSON fields that send ``body`` to ``to``."""
        raise NotImplementedError

    def result_from(self, status_code: int, payload: Any) -> SendResult:
        """Return the provider's id from its answer, or raise a gateway error."""
        raise NotImplementedError

    def send(self, to: str, body: str) -> SendResult:
        """POST one message and interpret the answer."""
        url, headers, fields = self.request_for(to, body)
        try:
            response = self.session.post(url, json=fields, headers=headers, timeout=self.timeout_s)
        except requests.ConnectionError as exc:
            if isinstance(exc, requests.ConnectTimeout) or "NewConnectionError" in repr(exc):
                raise TransientGatewayError(f"cannot reach {self.name}: {exc}") from exc
            raise UncertainSendError(f"no answer from {self.name}: {exc}") from exc
        except requests.Timeout as exc:
            raise UncertainSendError(f"no answer from {self.name}: {exc}") from exc
        except requests.RequestException as exc:
            raise UncertainSendError(f"{self.name}: {exc}") from exc
        if response.status_code == 429 or response.status_code >= 500:
            raise TransientGatewayError(
                f"{self.name} answered {response.status_code}", code=str(response.status_code)
            )
        try:
            payload = response.json()
        except ValueError as exc:
            raise UncertainSendError(f"{self.name} answered something unreadable") from exc
        result = self.result_from(response.status_code, payload)
        if not isinstance(result, SendResult):  # pragma: no cover - a subclass's mistake
            raise GatewayError(f"{self.name}: result_from must return a SendResult")
        return result

    def find_sent(self, to: str, since: datetime) -> list[ProviderMessage] | None:
        """Without a sent-messages report, a crashed send is held for a person to decide."""
        return None
