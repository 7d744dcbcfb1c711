"""Validating what people type: clean text, and pydantic's errors in the reader's language."""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, TypeVar

from flask_babel import format_decimal
from flask_babel import gettext as _
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter, ValidationError

# Characters that have no business in a name or an address: controls, and the invisible
# formatting marks used to disguise text (bidirectional overrides, zero-width spaces).
_KEEP_IN_TEXT = {"\n", "\t"}

#: The largest id a record can have: the databases' 32-bit INTEGER. A bigger number in a URL,
#: a form or JSON names no record; passed to the database it would fail (OverflowError on
#: SQLite, "out of range" on PostgreSQL) instead of simply finding nothing.
MAX_ID = 2**31 - 1
_ASCII_DIGITS = frozenset("0123456789")

#: How far ahead a drive day or a preferred visit time may be. Further is a typo (year 9999),
#: not a plan, and near the end of the calendar a time zone would carry it past year 9999.
FAR_AHEAD = timedelta(days=2 * 366)


def too_far_ahead() -> str:
    """The message for a date beyond ``FAR_AHEAD``."""
    return _("This date is too far ahead: at most two years from today.")


def checked_moment(value: datetime, *, now: datetime | None = None) -> datetime:
    """Return an aware ``value`` if it is a real instant no further than ``FAR_AHEAD``.

    Raise ValueError (a field error in pydantic) otherwise: 9999-12-31T23:00-14:00 or
    0001-01-01T00:00+14:00 cannot be converted to UTC at all.
    """
    try:
        instant = value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise ValueError(_("This date is outside the calendar.")) from None
    if instant > (now or datetime.now(UTC)) + FAR_AHEAD:
        raise ValueError(too_far_ahead())
    return value


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


def _cleaned(clean: Callable[[str], str]) -> Callable[[Any], Any]:
    def run(value: Any) -> Any:
        return clean(value) if isinstance(value, str) else value

    return run


# Cleaning runs *before* the field's checks, so a required name made only of invisible
# characters is refused as empty and the length limits count what is stored.
Line = Annotated[str, BeforeValidator(_cleaned(clean_line))]
Text = Annotated[str, BeforeValidator(_cleaned(clean_text))]
#: A record's id as a form or JSON gives it: 1 to ``MAX_ID``.
RecordId = Annotated[int, Field(ge=1, le=MAX_ID)]
#: An ISO 639 language code, as people's languages are stored ("vi", "en", "km").
LanguageCode = Annotated[str, Field(pattern=r"^[a-z]{2,3}$")]


def parse_whole(text: str | None, *, low: int = 0, high: int = MAX_ID) -> int | None:
    """Return ``text`` as a whole number from ``low`` to ``high``, or None.

    Only ASCII digits count: ``"²".isdigit()`` is true but ``int("²")`` fails, and ``int()``
    accepts other scripts' digits ("١٢") we never mean. The length is checked first, so a
    number of thousands of digits is refused without being converted.
    """
    if text is None:
        return None
    text = text.strip()
    if not text or len(text) > len(str(high)) or not set(text) <= _ASCII_DIGITS:
        return None
    number = int(text)
    return number if low <= number <= high else None


def parse_id(text: str | None) -> int | None:
    """Return ``text`` as a record id (1 to ``MAX_ID``), or None."""
    return parse_whole(text, low=1, high=MAX_ID)


def parse_ids(values: Iterable[str], *, limit: int = 1000) -> list[int]:
    """Return the valid record ids among ``values`` (ticked boxes), in order, without repeats."""
    found: dict[int, None] = {}
    for value in values:
        number = parse_id(value)
        if number is not None:
            found[number] = None
            if len(found) >= limit:
                break
    return list(found)


def is_record_id(value: object) -> bool:
    """Return True when ``value`` can be a record's id (an int from 1 to ``MAX_ID``)."""
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ID


def is_code(value: object, *, max_length: int = 40) -> bool:
    """Return True for a catalogue or place code: ASCII letters, digits and underscores.

    Codes are looked up in the database; anything else (a NUL byte, which PostgreSQL refuses
    in a query, or a lone surrogate from JSON) names nothing and is never sent there.
    """
    return (
        isinstance(value, str)
        and 0 < len(value) <= max_length
        and value.isascii()
        and value.replace("_", "").isalnum()
    )


def search_text(value: str | None, *, max_length: int = 100) -> str | None:
    """Return a search box's text as one clean line, cut to ``max_length``; None when empty."""
    if not value:
        return None
    try:
        text = clean_line(value)
    except ValueError:
        return None
    return text[:max_length].strip() or None


def _message(error: dict[str, Any]) -> str:
    kind = error.get("type", "")
    ctx = error.get("ctx") or {}
    if kind == "missing":
        return _("This field is required.")
    if kind == "string_too_short" and ctx.get("min_length", 1) <= 1:
        return _("This field is required.")
    if kind == "string_too_long":
        return _("At most %(n)s characters.", n=format_decimal(ctx.get("max_length", 0)))
    # A length check on an optional text is reported as a generic "Value" length.
    is_text = ctx.get("field_type") == "Value"
    if kind == "too_long":
        if is_text:
            return _("At most %(n)s characters.", n=format_decimal(ctx.get("max_length", 0)))
        return _("At most %(n)d items.", n=ctx.get("max_length", 0))
    if kind == "too_short":
        if is_text and ctx.get("min_length", 1) <= 1:
            return _("This field is required.")
        return _("Choose at least %(n)d.", n=ctx.get("min_length", 1))
    if kind in ("int_parsing", "int_parsing_size", "int_type", "int_from_float"):
        return _("Enter a whole number.")
    if kind in ("float_parsing", "float_type", "finite_number"):
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


M = TypeVar("M", bound=BaseModel)

#: Checks across fields (or against the database) run on the fields that are valid: they get
#: ``{field: validated value}`` and return ``{field: [messages]}``. A field missing from the
#: mapping is wrong or unknown, so a rule that needs it says nothing.
Rules = Callable[[Mapping[str, Any]], dict[str, list[str]]]


def merge_errors(*found: Mapping[str, list[str]]) -> dict[str, list[str]]:
    """Return the field errors of all ``found`` maps together, each message once."""
    merged: dict[str, list[str]] = {}
    for errors in found:
        for key, messages in errors.items():
            kept = merged.setdefault(key, [])
            kept.extend(m for m in messages if m not in kept)
    return merged


@functools.cache
def _field_adapter(model: type[BaseModel], name: str) -> TypeAdapter[Any]:
    info = model.model_fields[name]
    config = ConfigDict(str_strip_whitespace=bool(model.model_config.get("str_strip_whitespace")))
    return TypeAdapter(Annotated[info.annotation, info], config=config)


def valid_fields(model: type[BaseModel], payload: Mapping[str, Any]) -> dict[str, Any]:
    """Return the fields of ``payload`` that are valid on their own, as the model reads them.

    Absent optional fields get their default; wrong and absent required fields are left out.
    Each field is checked alone, so this works when the whole payload does not validate (the
    model's own field and model validators are not run: keep cross-field checks in rules).
    """
    values: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        if name in payload:
            try:
                values[name] = _field_adapter(model, name).validate_python(payload[name])
            except ValidationError:
                continue
        elif not info.is_required():
            values[name] = info.get_default(call_default_factory=True)
    return values


def parse_model(model: type[M], payload: object, *, rules: Rules | None = None) -> M:
    """Validate a payload (a dict from JSON, a form or a spreadsheet row) or raise FieldErrors.

    ``rules`` run whether or not the schema accepts the payload (on the fields that are
    valid), so one answer lists every field's error: a person fixing the name does not then
    learn that the phone was wrong too.
    """
    if not isinstance(payload, dict):
        raise FieldErrors({"_form": [_("Expected an object.")]})
    try:
        data = model.model_validate(payload)
    except ValidationError as exc:
        schema = field_errors(exc)
        if rules is None:
            raise FieldErrors(schema) from None
        raise FieldErrors(merge_errors(schema, rules(valid_fields(model, payload)))) from None
    if rules is not None:
        errors = rules(dict(data))
        if errors:
            raise FieldErrors(errors)
    return data
