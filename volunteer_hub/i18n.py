"""Languages and time zones: Vietnamese first, English second, times in Asia/Ho_Chi_Minh."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask, current_app, g, has_request_context, request
from flask_babel import (
    format_date,
    format_datetime,
    format_decimal,
    format_percent,
    format_time,
    get_locale,
)
from flask_login import current_user

from volunteer_hub.extensions import babel

#: The cookie that remembers a visitor's language choice.
LANG_COOKIE = "lang"


def supported_locales() -> list[str]:
    """Return the locales the app speaks, the default first."""
    return list(current_app.config["LANGUAGES"])


def select_locale() -> str:
    """Pick the locale: an explicit ?lang=, the remembered choice, the account's, else
    Vietnamese."""
    if not has_request_context():
        # The CLI and the worker: operators read English; messages to people are rendered
        # with force_locale in the recipient's language.
        return "en"
    languages = supported_locales()
    asked = request.args.get("lang")
    if asked in languages:
        return asked
    remembered = request.cookies.get(LANG_COOKIE)
    if remembered in languages:
        return remembered
    if request.path.startswith("/api/"):
        # Programs say what they want; people's phones often say it without their owners.
        return (
            request.accept_languages.best_match(languages)
            or current_app.config["BABEL_DEFAULT_LOCALE"]
        )
    user_locale = getattr(current_user, "locale", None) if current_user else None
    if user_locale in languages:
        return user_locale
    # Accept-Language is ignored on purpose: the people we serve read Vietnamese, and many
    # cheap phones ship with an English system language they never chose.
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def local_zone() -> ZoneInfo:
    """Return the zone times are shown in."""
    return ZoneInfo(current_app.config["TIMEZONE"])


def locale_code() -> str:
    """Return the active locale as a short code ("vi" or "en")."""
    if "locale_code" not in g:
        g.locale_code = str(get_locale() or current_app.config["BABEL_DEFAULT_LOCALE"])
    return g.locale_code


def localized(obj: Any, attribute: str = "name") -> str:
    """Return ``obj.<attribute>_<locale>``, falling back to Vietnamese."""
    value = getattr(obj, f"{attribute}_{locale_code()}", None)
    return value if value else getattr(obj, f"{attribute}_vi")


def _fmt_datetime(value: datetime | None, fmt: str = "short") -> str:
    return format_datetime(value, fmt) if value else ""


def _fmt_date(value: date | datetime | None, fmt: str = "medium") -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.astimezone(local_zone()).date()
    return format_date(value, fmt)


def _fmt_time(value: datetime | None, fmt: str = "HH:mm") -> str:
    return format_time(value, fmt) if value else ""


def format_money(value: float | None, unit: str = "") -> str:
    """An amount with two decimals in the locale's digits, then its currency: ``15,97 USD``."""
    if value is None:
        return "–"
    amount = format_decimal(value, "#,##0.00")
    return f"{amount} {unit}" if unit else amount


def format_minutes(value: float | None) -> str:
    """Minutes as a whole number in the locale's digits (``1.357`` in Vietnamese)."""
    return "–" if value is None else format_decimal(round(value), "#,##0")


def format_tenths(value: float | None) -> str:
    """A figure with one decimal in the locale's digits (``126,8``, ``11,4``)."""
    return "–" if value is None else format_decimal(value, "#,##0.0")


def format_share(value: float | None) -> str:
    """A share (0 to 1) as a whole percentage in the locale's way (``67%``)."""
    return "–" if value is None else format_percent(value, "#,##0%")


def init_app(app: Flask) -> None:
    """Bind Flask-Babel and the template helpers to the app."""
    babel.init_app(
        app,
        locale_selector=select_locale,
        default_timezone=app.config["TIMEZONE"],
    )
    app.jinja_env.filters.update(
        datetime=_fmt_datetime,
        date=_fmt_date,
        time=_fmt_time,
        number=format_decimal,
        money=format_money,
        minutes=format_minutes,
        tenths=format_tenths,
        share=format_share,
        localized=localized,
    )
    app.jinja_env.globals.update(locale_code=locale_code, supported_locales=supported_locales)
