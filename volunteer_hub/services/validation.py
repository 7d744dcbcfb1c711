"""Validating what people type: clean text, and pydantic's errors in the reader's language."""

from __future__ import annotations

import unicodedata
from typing import Annotated, Any

from flask_babel import gettext as _
from pydantic import AfterValidator, ValidationError

# Characters that have no business in a name or an address: controls, and the invisible
# formatting marks used to disguise text (bidirectional overrides, zero-width spaces).
_KEEP_IN_TEXT = {"\n", "\t"}


class FieldErrors(ValueError):
    """Input failed validation; ``errors`` maps a field name to its messages."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()))
        self.errors = errors


def _clean(value: str, *, multiline: bool) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:  # lone surrogates from JSON "\ud800"
        raise ValueError("invalid_text") from exc
    value = unicodedata.normalize("NFC", value)
    if not multiline:
        value = value.replace("\t", " ").replace("\r", " ").replace("\n", " ")
    kept = []
    for ch in value:
        category = unicodedata.category(ch)
        if category in ("Cc", "Cf", "Co", "Cs") and not (multiline and ch in _KEEP_IN_TEXT):
            continue
        kept.append(ch)
    text = "".join(kept)
    if multiline:
        lines = [" ".join(line.split()) for line in text.splitlines()]
        return "\n".join(lines).strip()
    return " ".join(text.split())


def clean_line(value: str) -> str:
    """Return one line of text, NFC, without control or invisible characters."""
    return _clean(value, multiline=False)


def clean_text(value: str) -> str:
    """Return multi-line text, NFC, without control or invisible characters."""
    return _clean(value, multiline=True)


Line = Annotated[str, AfterValidator(clean_line)]
Text = Annotated[str, AfterValidator(clean_text)]


def _message(error: dict[str, Any]) -> str:
    kind = error.get("type", "")
    ctx = error.get("ctx") or {}
    if kind == "missing":
        return _("This field is required.")
    if kind == "string_too_short" and ctx.get("min_length", 1) <= 1:
        return _("This field is required.")
    if kind == "string_too_long":
        return _("At most %(n)d characters.", n=ctx.get("max_length", 0))
    if kind == "too_long":
        return _("At most %(n)d items.", n=ctx.get("max_length", 0))
    if kind == "too_short":
        return _("Choose at least %(n)d.", n=ctx.get("min_length", 1))
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return _("Enter a whole number.")
    if kind in ("float_parsing", "float_type"):
        return _("Enter a number.")
    if kind in ("greater_than_equal", "greater_than"):
        return _("Must be at least %(n)s.", n=ctx.get("ge", ctx.get("gt")))
    if kind in ("less_than_equal", "less_than"):
        return _("Must be at most %(n)s.", n=ctx.get("le", ctx.get("lt")))
    if kind in ("enum", "literal_error"):
        return _("Choose one of the options.")
    if kind in ("bool_parsing", "bool_type"):
        return _("Choose yes or no.")
    if kind in ("string_type",):
        return _("Enter text.")
    if kind in ("list_type",):
        return _("Expected a list.")
    if kind.startswith("datetime") or kind == "timezone_aware":
        return _("Enter a date and time with its time zone, such as 2026-11-28T07:30:00+07:00.")
    if kind.startswith("date"):
        return _("Enter a date, such as 2005-09-02.")
    if kind == "string_pattern_mismatch":
        return _("This value is not in the expected form.")
    if kind == "extra_forbidden":
        return _("Unknown field.")
    if kind == "model_type" or kind == "dict_type":
        return _("Expected an object.")
    if kind == "value_error":
        original = ctx.get("error")
        text = str(original) if original is not None else ""
        if text == "invalid_text":
            return _("This text contains characters we cannot store.")
        return text or _("This value is not valid.")
    return _("This value is not valid.")


def field_errors(exc: ValidationError) -> dict[str, list[str]]:
    """Return pydantic's errors as {field: [translated messages]}, nested fields dotted."""
    errors: dict[str, list[str]] = {}
    for error in exc.errors(include_url=False):
        loc = [str(part) for part in error.get("loc", ()) if part != "__root__"]
        key = ".".join(loc) if loc else "_form"
        errors.setdefault(key, [])
        message = _message(error)
        if message not in errors[key]:
            errors[key].append(message)
    return errors
