"""Vietnamese phone numbers: parsed with phonenumbers for region VN, kept in E.164."""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers
from flask_babel import lazy_gettext as _l
from phonenumbers import NumberParseException, PhoneNumberType

REGION = "VN"
_MOBILE_TYPES = {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}


@dataclass(frozen=True)
class Phone:
    """A valid phone number and whether it can receive SMS."""

    e164: str
    is_mobile: bool

    @property
    def national(self) -> str:
        return national_format(self.e164)


class PhoneError(ValueError):
    """Not a valid phone number; the message is translated when shown."""


def parse_phone(raw: str, *, mobile_only: bool = False) -> Phone:
    """Parse a number as typed in Vietnam ("0912 345 678", "+84912345678", "84912345678")."""
    text = (raw or "").strip()
    if not text:
        raise PhoneError(_l("Enter a phone number."))
    if len(text) > 32:
        raise PhoneError(_l("This is not a valid Vietnamese phone number."))
    # "84912345678" without the plus is common when copied from spreadsheets.
    digits = "".join(ch for ch in text if ch.isdigit())
    if text[0] != "+" and digits.startswith("84") and len(digits) == 11:
        text = "+" + digits
    try:
        number = phonenumbers.parse(text, REGION)
    except NumberParseException as exc:
        raise PhoneError(_l("This is not a valid Vietnamese phone number.")) from exc
    if not phonenumbers.is_valid_number(number):
        raise PhoneError(_l("This is not a valid Vietnamese phone number."))
    is_mobile = phonenumbers.number_type(number) in _MOBILE_TYPES
    if mobile_only and (not is_mobile or number.country_code != 84):
        raise PhoneError(
            _l("Enter a Vietnamese mobile number (10 digits starting 03, 05, 07, 08 or 09).")
        )
    return Phone(
        e164=phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
        is_mobile=is_mobile and number.country_code == 84,
    )


def national_format(e164: str | None) -> str:
    """Return an E.164 number as people in Vietnam write it ("0912 345 678")."""
    if not e164:
        return ""
    try:
        number = phonenumbers.parse(e164, REGION)
    except NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
