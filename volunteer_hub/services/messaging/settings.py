"""The SMS settings every messaging service reads: sender, quiet hours, rates, prices, links."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app

from volunteer_hub.services.messaging.sealing import derived_key, message_keys


class SmsSettingsError(ValueError):
    """An SMS setting has a value that cannot work; one line a person can act on."""


def parse_quiet_hours(text: str | None) -> tuple[time, time] | None:
    """Parse ``"21:00-07:00"`` (local times; the range may cross midnight); empty means none."""
    value = (text or "").strip()
    if not value:
        return None
    match = re.fullmatch(r"(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})", value)
    if not match:
        raise SmsSettingsError(
            f"VH_SMS_QUIET_HOURS={value!r} must look like 21:00-07:00 (or be empty)"
        )
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
        raise SmsSettingsError(f"VH_SMS_QUIET_HOURS={value!r} has an impossible time")
    start, end = time(h1, m1), time(h2, m2)
    return None if start == end else (start, end)


@dataclass(frozen=True)
class SmsSettings:
    """The SMS settings a service needs, read once from the app's config."""

    sender_name: str = "Đoàn TN"
    quiet_hours: tuple[time, time] | None = (time(21, 0), time(7, 0))
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Ho_Chi_Minh"))
    public_base_url: str = "http://127.0.0.1:5000"
    batch_size: int = 100
    concurrency: int = 8
    rate_per_s: float = 0.0
    sending_timeout_s: float = 300.0
    max_attempts: int = 6
    retry_base_s: float = 30.0
    price_per_segment: float = 0.08
    price_unit: str = "USD"
    failing_after: int = 3
    unaccented_default: bool = True
    link_valid_days: int = 7
    secret_key: str = ""
    #: Fernet keys for the secrets of waiting messages (``VH_MESSAGE_KEY``), first one sealing.
    message_keys: tuple[bytes, ...] = ()

    @property
    def sealing_keys(self) -> tuple[bytes, ...]:
        """Return the message keys, or the one derived from the secret key when none is set."""
        return self.message_keys or (derived_key(self.secret_key),)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> SmsSettings:
        """Read the ``VH_SMS_*`` settings (and a few general ones) from a config mapping."""
        try:
            return cls(
                sender_name=str(config.get("SMS_SENDER_NAME") or "").strip() or "Đoàn TN",
                quiet_hours=parse_quiet_hours(config.get("SMS_QUIET_HOURS")),
                timezone=ZoneInfo(config.get("TIMEZONE") or "Asia/Ho_Chi_Minh"),
                public_base_url=str(config.get("PUBLIC_BASE_URL") or "").rstrip("/"),
                batch_size=max(1, int(config.get("SMS_BATCH_SIZE", 100))),
                concurrency=max(1, int(config.get("SMS_CONCURRENCY", 8))),
                rate_per_s=max(0.0, float(config.get("SMS_RATE_PER_S", 0))),
                sending_timeout_s=float(config.get("SMS_SENDING_TIMEOUT_S", 300)),
                max_attempts=max(1, int(config.get("SMS_MAX_ATTEMPTS", 6))),
                retry_base_s=max(0.0, float(config.get("SMS_RETRY_BASE_S", 30))),
                price_per_segment=float(config.get("SMS_PRICE_PER_SEGMENT", 0)),
                price_unit=str(config.get("SMS_PRICE_UNIT") or "USD"),
                failing_after=max(1, int(config.get("SMS_FAILING_AFTER", 3))),
                unaccented_default=bool(config.get("SMS_UNACCENTED_DEFAULT", True)),
                link_valid_days=max(0, int(config.get("LINK_VALID_DAYS", 7))),
                secret_key=str(config.get("SECRET_KEY") or ""),
                message_keys=tuple(message_keys(config)),
            )
        except (TypeError, ValueError) as exc:
            if isinstance(exc, SmsSettingsError):
                raise
            raise SmsSettingsError(f"an SMS setting is not a number: {exc}") from exc


def sms_settings(settings: SmsSettings | None = None) -> SmsSettings:
    """Return ``settings``, or the current app's."""
    return settings if settings is not None else SmsSettings.from_config(current_app.config)


def is_quiet_time(moment: datetime, settings: SmsSettings) -> bool:
    """Return True when ``moment`` falls in the quiet hours (non-urgent messages wait)."""
    if settings.quiet_hours is None:
        return False
    start, end = settings.quiet_hours
    local = moment.astimezone(settings.timezone).time()
    if start < end:
        return start <= local < end
    return local >= start or local < end
