"""The Twilio backend (the official ``twilio`` library), webhook signatures and TwiML replies."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from twilio.twiml.messaging_response import MessagingResponse
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from volunteer_hub.sms import (
    GatewayConfigError,
    PermanentGatewayError,
    ProviderMessage,
    SendResult,
    TransientGatewayError,
    UncertainSendError,
)

logger = logging.getLogger("volunteer_hub.sms.twilio")
# The library logs every request at INFO, numbers included; personal data stays out of logs.
_http_logger = logging.getLogger("volunteer_hub.sms.twilio.http")
_http_logger.setLevel(logging.WARNING)

DEFAULT_API_BASE_URL = "https://api.twilio.com"
STATUS_CALLBACK_PATH = "/webhooks/twilio/status"
SIGNATURE_HEADER = "X-Twilio-Signature"

# Twilio error codes (https://www.twilio.com/docs/api/errors) that decide what happens next.
OPTED_OUT = 21610  # the recipient replied STOP to this sender
INVALID_NUMBERS = frozenset({21211, 21614, 21612})  # invalid "To", not a mobile, unroutable
TOO_MANY_REQUESTS = 20429
# Our account, not the recipient: retry after someone fixes the settings.
ACCOUNT_PROBLEMS = frozenset({20003, 20005})


def classify_error(exc: TwilioRestException) -> Exception:
    """Turn a Twilio API error into the gateway error that says what to do next."""
    code = exc.code if isinstance(exc.code, int) else None
    text = f"Twilio {exc.status}: {exc.msg}".strip()
    code_text = str(code) if code is not None else str(exc.status)
    if code == OPTED_OUT:
        return PermanentGatewayError(text, code=code_text, opted_out=True)
    if code in INVALID_NUMBERS:
        return PermanentGatewayError(text, code=code_text, invalid_number=True)
    if code == TOO_MANY_REQUESTS or exc.status == 429:
        return TransientGatewayError(text, code=code_text)
    if exc.status >= 500 or code in ACCOUNT_PROBLEMS or exc.status in (401, 403):
        return TransientGatewayError(text, code=code_text)
    return PermanentGatewayError(text, code=code_text)


def _never_reached_provider(exc: requests.RequestException) -> bool:
    """Return True when the connection was never made, so the provider cannot have the message."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    if isinstance(exc, requests.ConnectionError):
        reason = exc.args[0] if exc.args else None
        inner = getattr(reason, "reason", reason)
        return isinstance(inner, NewConnectionError | ConnectTimeoutError)
    return False


class TwilioGateway:
    """Send through Twilio's Messages API, from a number/sender ID or a Messaging Service."""

    name = "twilio"

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        from_: str | None = None,
        messaging_service_sid: str | None = None,
        status_callback: str | None = None,
        api_base_url: str | None = None,
        timeout_s: float = 15.0,
        max_concurrency: int = 4,
    ) -> None:
        if not account_sid or not auth_token:
            raise GatewayConfigError(
                "VH_SMS_BACKEND=twilio needs VH_TWILIO_ACCOUNT_SID and VH_TWILIO_AUTH_TOKEN"
            )
        if not from_ and not messaging_service_sid:
            raise GatewayConfigError(
                "VH_SMS_BACKEND=twilio needs VH_TWILIO_FROM or VH_TWILIO_MESSAGING_SERVICE_SID"
            )
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.from_ = from_ or None
        self.messaging_service_sid = messaging_service_sid or None
        self.status_callback = status_callback or None
        self.api_base_url = (api_base_url or DEFAULT_API_BASE_URL).rstrip("/")
        self.timeout_s = timeout_s
        self.max_concurrency = max(1, int(max_concurrency))
        # requests sessions are not documented as thread-safe: one client per sending thread.
        self._local = threading.local()

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> TwilioGateway:
        """Build the gateway from ``VH_TWILIO_*`` settings and ``VH_PUBLIC_BASE_URL``."""
        base = (config.get("PUBLIC_BASE_URL") or "").rstrip("/")
        return cls(
            account_sid=config.get("TWILIO_ACCOUNT_SID") or "",
            auth_token=config.get("TWILIO_AUTH_TOKEN") or "",
            from_=config.get("TWILIO_FROM") or None,
            messaging_service_sid=config.get("TWILIO_MESSAGING_SERVICE_SID") or None,
            status_callback=f"{base}{STATUS_CALLBACK_PATH}" if base else None,
            api_base_url=config.get("TWILIO_API_BASE_URL") or None,
            timeout_s=float(config.get("SMS_HTTP_TIMEOUT_S") or 15),
            max_concurrency=int(config.get("SMS_CONCURRENCY") or 4),
        )

    def client(self) -> Client:
        """Return this thread's Twilio client."""
        client = getattr(self._local, "client", None)
        if client is None:
            http = TwilioHttpClient(timeout=self.timeout_s, logger=_http_logger)
            client = Client(self.account_sid, self.auth_token, http_client=http)
            if self.api_base_url != DEFAULT_API_BASE_URL:
                # The library's documented override: every api.twilio.com call goes here instead.
                client.api.base_url = self.api_base_url
            self._local.client = client
        return client

    def send(self, to: str, body: str) -> SendResult:
        """Create the message at Twilio; map its errors onto the gateway's."""
        options: dict[str, Any] = {"to": to, "body": body}
        if self.messaging_service_sid:
            options["messaging_service_sid"] = self.messaging_service_sid
        else:
            options["from_"] = self.from_
        if self.status_callback:
            options["status_callback"] = self.status_callback
        try:
            created = self.client().messages.create(**options)
        except TwilioRestException as exc:
            raise classify_error(exc) from exc
        except requests.RequestException as exc:
            if _never_reached_provider(exc):
                raise TransientGatewayError(f"cannot reach Twilio: {exc}") from exc
            raise UncertainSendError(f"no answer from Twilio: {exc}") from exc
        except TwilioException as exc:
            raise UncertainSendError(f"unreadable answer from Twilio: {exc}") from exc
        if not created.sid:
            raise UncertainSendError("Twilio accepted the message without an id")
        segments = int(created.num_segments) if created.num_segments else None
        return SendResult(
            provider_sid=created.sid, status=str(created.status or "queued"), segments=segments
        )

    def find_sent(self, to: str, since: datetime) -> list[ProviderMessage] | None:
        """List what Twilio has for this recipient, newest first, created since then."""
        options: dict[str, Any] = {"to": to, "limit": 200, "page_size": 100}
        if self.from_ and not self.messaging_service_sid:
            options["from_"] = self.from_
        try:
            records = self.client().messages.list(**options)
        except TwilioRestException as exc:
            raise classify_error(exc) from exc
        except (requests.RequestException, TwilioException) as exc:
            raise TransientGatewayError(f"cannot list Twilio messages: {exc}") from exc
        found = []
        for record in records:
            created = record.date_created
            if created is not None and created < since:
                continue
            found.append(
                ProviderMessage(
                    provider_sid=str(record.sid),
                    to=str(record.to or ""),
                    body=str(record.body or ""),
                    created_at=created,
                    status=str(record.status) if record.status else None,
                )
            )
        return found


def is_valid_signature(
    auth_token: str, urls: Iterable[str], params: Any, signature: str | None
) -> bool:
    """Return True when ``signature`` is Twilio's for one of these URLs and the form params."""
    if not auth_token or not signature:
        return False
    validator = RequestValidator(auth_token)
    return any(validator.validate(url, params, signature) for url in urls)


def compute_signature(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    """Return the signature Twilio would send for this request (tests and tools)."""
    return str(RequestValidator(auth_token).compute_signature(url, params))


def twiml_reply(text: str | None) -> str:
    """Return a TwiML document that answers with ``text`` (or says nothing)."""
    response = MessagingResponse()
    if text:
        response.message(text)
    return str(response)
