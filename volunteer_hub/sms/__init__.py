"""The SMS gateway port: send a text to an E.164 number, get the provider's id back.

Backends live next to this module: ``console`` (development and the demo), ``twilio``, and the
documented seam for a Vietnamese brand-name provider in :mod:`volunteer_hub.sms.brandname`.
``VH_SMS_BACKEND`` names one of them, or ``package.module:factory`` for a backend of your own
(the factory receives the app's config mapping and returns an :class:`SmsGateway`).

Only this package imports provider libraries (``twilio``); services receive a gateway as an
argument, so tests pass a recording fake instead.
"""

from __future__ import annotations

import importlib
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class SendResult:
    """What the provider said when it accepted a message."""

    provider_sid: str
    # The provider's own word ("queued", "accepted", "sent"...).
    status: str = "queued"
    segments: int | None = None


@dataclass(frozen=True)
class ProviderMessage:
    """A message as the provider's message list shows it (for reconciliation)."""

    provider_sid: str
    to: str
    body: str
    created_at: datetime | None
    status: str | None = None


class GatewayError(Exception):
    """The provider refused or failed a message; ``code`` is its error code when it gave one."""

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class TransientGatewayError(GatewayError):
    """Try again later: too many requests, a server error, no connection was made.

    The message surely did not reach the provider, so sending it again is not a duplicate.
    """

    def __init__(
        self, message: str, *, code: str | None = None, retry_after_s: float | None = None
    ) -> None:
        super().__init__(message, code=code)
        self.retry_after_s = retry_after_s


class PermanentGatewayError(GatewayError):
    """Never retry: the number is invalid, or its owner opted out at the provider."""

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        opted_out: bool = False,
        invalid_number: bool = False,
    ) -> None:
        super().__init__(message, code=code)
        self.opted_out = opted_out
        self.invalid_number = invalid_number


class UncertainSendError(GatewayError):
    """The request left, but no answer came back (a read timeout, a dropped connection).

    The provider may or may not have the message. Retrying could send it twice, so the row
    stays ``sending`` and reconciliation asks the provider's message list later.
    """


@runtime_checkable
class SmsGateway(Protocol):
    """What the outbox needs from a provider."""

    #: Short name stored on each message ("console", "twilio", ...).
    name: str
    #: How many sends may run at once (1 when the backend is not thread-safe).
    max_concurrency: int

    def send(self, to: str, body: str) -> SendResult:
        """Send one message; raise a :class:`GatewayError` subclass when it was not accepted."""
        ...

    def find_sent(self, to: str, since: datetime) -> list[ProviderMessage] | None:
        """Return what the provider sent to ``to`` since then, or None when it cannot tell."""
        ...


GatewayFactory = Callable[[Mapping[str, Any]], SmsGateway]


class GatewayConfigError(RuntimeError):
    """The SMS backend is unknown or its settings are missing; one line a person can act on."""


def _console(config: Mapping[str, Any]) -> SmsGateway:
    from volunteer_hub.sms.console import ConsoleGateway

    # Only the demo's invented people get their links in the log, to be tried.
    return ConsoleGateway(reveal=bool(config.get("DEMO")))


def _twilio(config: Mapping[str, Any]) -> SmsGateway:
    from volunteer_hub.sms.twilio import TwilioGateway

    return TwilioGateway.from_config(config)


BACKENDS: dict[str, GatewayFactory] = {"console": _console, "twilio": _twilio}


def build_gateway(config: Mapping[str, Any]) -> SmsGateway:
    """Return the gateway ``VH_SMS_BACKEND`` names, configured from the app's config."""
    name = str(config.get("SMS_BACKEND") or "console").strip()
    factory = BACKENDS.get(name)
    if factory is None and ":" in name:
        module_name, _, attribute = name.partition(":")
        try:
            factory = getattr(importlib.import_module(module_name), attribute)
        except (ImportError, AttributeError) as exc:
            raise GatewayConfigError(f"VH_SMS_BACKEND={name}: cannot import it ({exc})") from exc
    if factory is None:
        known = ", ".join(sorted(BACKENDS))
        raise GatewayConfigError(
            f"VH_SMS_BACKEND={name} is not a known backend ({known}, or module:factory)"
        )
    gateway = factory(config)
    if not isinstance(gateway, SmsGateway):
        raise GatewayConfigError(f"VH_SMS_BACKEND={name} did not return an SMS gateway")
    return gateway


class SenderThrottle:
    """Keep one sender under a rate, in segments per second (0 means no limit).

    Twilio queues one segment per second per long code and more for a Messaging Service; a
    brand-name provider states its own rate. The throttle lives in one worker process, so with
    several workers each gets its share of the rate (see docs/sms.md).
    """

    def __init__(
        self,
        rate_per_s: float,
        *,
        burst: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.rate_per_s = max(0.0, float(rate_per_s))
        self.capacity = max(1.0, burst if burst is not None else self.rate_per_s)
        self._tokens = self.capacity
        self._clock = clock
        self._sleep = sleep
        self._last = clock()
        self._lock = threading.Lock()

    def acquire(self, segments: int = 1) -> float:
        """Wait until ``segments`` may be sent; return the seconds waited."""
        if self.rate_per_s <= 0:
            return 0.0
        # A message longer than the bucket would otherwise wait forever.
        need = min(float(segments), self.capacity)
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                self._tokens = min(
                    self.capacity, self._tokens + (now - self._last) * self.rate_per_s
                )
                self._last = now
                if self._tokens >= need:
                    self._tokens -= need
                    return waited
                delay = (need - self._tokens) / self.rate_per_s
            self._sleep(delay)
            waited += delay
