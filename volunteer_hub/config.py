"""Configuration: defaults in code, then environment variables with the ``VH_`` prefix."""

from __future__ import annotations

import ipaddress
import math
import os
import secrets
from datetime import timedelta
from typing import Any

from flask import Flask

#: The placeholder secret. The app refuses to start with it outside debug and testing.
DEFAULT_SECRET_KEY = "dev-only-not-secret"  # noqa: S105 (a placeholder that is refused)


class ConfigError(RuntimeError):
    """A setting is missing or wrong; the message is one line a person can act on."""


DEFAULTS: dict[str, Any] = {
    "SECRET_KEY": DEFAULT_SECRET_KEY,
    # None means "a SQLite file in the instance folder", resolved in load_config.
    "SQLALCHEMY_DATABASE_URI": None,
    # hide_parameters: an error's log line never prints the values of its statement (phones,
    # names, notes of households).
    "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True, "hide_parameters": True},
    "SQLALCHEMY_RECORD_QUERIES": False,
    # Seconds the app waits for PostgreSQL before /healthz reports an error.
    "DATABASE_CONNECT_TIMEOUT_S": 3,
    "BABEL_DEFAULT_LOCALE": "vi",
    "BABEL_DEFAULT_TIMEZONE": "Asia/Ho_Chi_Minh",
    "LANGUAGES": ["vi", "en"],
    "TIMEZONE": "Asia/Ho_Chi_Minh",
    "WTF_CSRF_TIME_LIMIT": 6 * 3600,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    # None means "Secure outside debug and testing", resolved in load_config.
    "SESSION_COOKIE_SECURE": None,
    "REMEMBER_COOKIE_HTTPONLY": True,
    "REMEMBER_COOKIE_SAMESITE": "Lax",
    "PERMANENT_SESSION_LIFETIME": timedelta(hours=12),
    # Requests bigger than this get 413 before any view runs (CSV/Excel imports included).
    "MAX_CONTENT_LENGTH": 4 * 1024 * 1024,
    "MAX_FORM_MEMORY_SIZE": 512 * 1024,
    "RATELIMIT_STORAGE_URI": "memory://",
    "RATELIMIT_HEADERS_ENABLED": True,
    # With the shared store (Redis) away, count in each process instead of failing requests;
    # /healthz says "ratelimit": "degraded" meanwhile. Short timeouts so a store that hangs
    # never holds a request for long.
    "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
    "RATELIMIT_STORAGE_OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
    "RATELIMIT_LOGIN": "10 per minute; 50 per hour",
    "RATELIMIT_API": "120 per minute",
    # Public forms (help requests, volunteer sign-ups, phone codes) per client address. A commune
    # office on one connection may send several; coordinators enter phone requests signed in.
    "RATELIMIT_INTAKE": "20 per hour; 5 per minute",
    # The household status page (/request/status): few tries, so codes cannot be guessed.
    "RATELIMIT_STATUS": "10 per minute; 30 per hour",
    # The place lists the public forms fetch (/places/communes, /places/hamlets) per client
    # address: a person changing their mind a few times, or a commune office on one connection.
    "RATELIMIT_PLACES": "60 per minute; 600 per hour",
    # Largest body a public form accepts, in bytes: the forms are small, so anything bigger is
    # refused (413) before it is read.
    "PUBLIC_FORM_MAX_BYTES": 64 * 1024,
    # Number of proxies in front of the app (X-Forwarded-For/-Proto/-Host are trusted this deep).
    "PROXY_FIX": 0,
    "PUBLIC_BASE_URL": "http://127.0.0.1:5000",
    # Map tiles for the optional pins (request form, plan map). Any XYZ tile server works;
    # the forms work fully without it.
    "MAP_TILE_URL": "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
    "MAP_TILE_ATTRIBUTION": "© OpenStreetMap contributors",
    "DEMO": False,
    # Fernet key(s) sealing the phone codes and personal links of SMS waiting to be sent, the
    # first for new messages; empty: derived from SECRET_KEY (services/messaging/sealing.py).
    "MESSAGE_KEY": "",
    # Planning a drive: the planner's time limit, and its parallel searches (processes).
    "PLAN_TIME_LIMIT_S": 30,
    "PLAN_WORKERS": 2,
    # Days after a household's last visit when its contact details are removed (counts stay):
    # `volunteer-hub privacy purge`, and the worker nightly.
    "RETENTION_DAYS": 180,
    # Days after a volunteer's last drive or sign-up when their (and a minor's guardian's)
    # personal details are removed, hours and counts staying: same command, same nightly job.
    "VOLUNTEER_RETENTION_DAYS": 730,
    # How often the worker looks for queued plans, in seconds.
    "WORKER_PLANS_INTERVAL_S": 2,
    # Imports: a file with more rows than this is imported by the worker (role "imports"),
    # with a progress page, instead of inside the web request; how often the worker looks.
    "IMPORT_SYNC_MAX_ROWS": 200,
    "WORKER_IMPORTS_INTERVAL_S": 2,
    # --- SMS and the worker (docs/sms.md) ---
    # console (log and keep in the outbox), twilio, or package.module:factory for another one.
    "SMS_BACKEND": "console",
    "TWILIO_ACCOUNT_SID": "",
    "TWILIO_AUTH_TOKEN": "",
    # A number or registered sender ID; or a Messaging Service, which picks from its pool.
    "TWILIO_FROM": "",
    "TWILIO_MESSAGING_SERVICE_SID": "",
    # Twilio's own API unless a test points the client at a local fake.
    "TWILIO_API_BASE_URL": "https://api.twilio.com",
    # The name every message starts with: people must know who writes to them.
    "SMS_SENDER_NAME": "Đoàn TN",
    # Local times ("HH:MM-HH:MM", in TIMEZONE) when non-urgent messages wait; empty: never.
    "SMS_QUIET_HOURS": "21:00-07:00",
    # Segments per second per sender, for all workers together (0: no limit, the provider
    # queues), counted in SMS_RATE_STORAGE_URI.
    "SMS_RATE_PER_S": 0,
    # Where the workers share the sender's rate; empty: RATELIMIT_STORAGE_URI (Redis in
    # production). memory:// keeps it per process.
    "SMS_RATE_STORAGE_URI": "",
    # Provider calls in flight at once in each worker process.
    "SMS_CONCURRENCY": 8,
    "SMS_BATCH_SIZE": 100,
    "SMS_HTTP_TIMEOUT_S": 15,
    # A row still "sending" after this many seconds is reconciled with the provider's list.
    # It must be well above SMS_HTTP_TIMEOUT_S, or a slow send could be reconciled mid-flight.
    "SMS_SENDING_TIMEOUT_S": 300,
    "SMS_MAX_ATTEMPTS": 6,
    # First retry after this many seconds, doubling up to an hour.
    "SMS_RETRY_BASE_S": 30,
    # Price of one segment, for the template preview (check the provider's price list).
    "SMS_PRICE_PER_SEGMENT": 0.08,
    "SMS_PRICE_UNIT": "USD",
    # Failed or undelivered messages in a row before a number is flagged to the coordinator.
    "SMS_FAILING_AFTER": 3,
    # Strip tone marks from messages that belong to no drive (phone codes).
    "SMS_UNACCENTED_DEFAULT": True,
    # Worker jobs, every this many seconds.
    "WORKER_DISPATCH_INTERVAL_S": 2,
    "WORKER_RECONCILE_INTERVAL_S": 60,
    "WORKER_REMINDERS_INTERVAL_S": 300,
    "WORKER_LINKS_INTERVAL_S": 3600,
    "WORKER_IDEMPOTENCY_INTERVAL_S": 3600,
    # Report totals (role purge): the job's interval, and the closed days it keeps totalled.
    "WORKER_REPORT_TOTALS_INTERVAL_S": 600,
    "REPORT_TOTALS_DAYS": 400,
    # Logs: "json" (one object per line, for production) or "text"; the root level.
    "LOG_FORMAT": "text",
    "LOG_LEVEL": "INFO",
    # /metrics answers only a bearer token equal to this, or an address in METRICS_ALLOW
    # (a list of networks, e.g. ["10.0.0.0/8"]); with neither it answers 404 to everyone.
    "METRICS_TOKEN": "",
    "METRICS_ALLOW": [],
    # Every worker writes its heartbeat (for /readyz and /metrics) this often.
    "WORKER_HEARTBEAT_INTERVAL_S": 15,
    # Personal links stay valid this many days after their drive's last block.
    "LINK_VALID_DAYS": 7,
    # Personal link pages: each link per client address and code; wrong codes per address
    # (a valid code still opens past it); all link requests per address, a loose ceiling.
    "RATELIMIT_LINK": "60 per minute; 600 per hour",
    "RATELIMIT_LINK_MISS": "10 per minute; 50 per hour",
    "RATELIMIT_LINK_ADDRESS": "300 per minute; 3000 per hour",
}


#: Numeric settings that must be whole numbers (sizes in bytes, counts, days), each with its
#: least value. From the environment a setting is whatever JSON makes of it ("abc" stays a
#: string), and a wrong one would only fail later, on every request that reads it.
WHOLE_SETTINGS: dict[str, int] = {
    "DATABASE_CONNECT_TIMEOUT_S": 1,
    "WTF_CSRF_TIME_LIMIT": 1,
    "MAX_CONTENT_LENGTH": 1,
    "MAX_FORM_MEMORY_SIZE": 1,
    "PUBLIC_FORM_MAX_BYTES": 1,
    "PROXY_FIX": 0,
    "PLAN_WORKERS": 1,
    "RETENTION_DAYS": 1,
    "VOLUNTEER_RETENTION_DAYS": 1,
    "SMS_CONCURRENCY": 1,
    "SMS_BATCH_SIZE": 1,
    "SMS_MAX_ATTEMPTS": 1,
    "SMS_FAILING_AFTER": 1,
    "LINK_VALID_DAYS": 0,
    "IMPORT_SYNC_MAX_ROWS": 0,
}
#: Numeric settings that may have a fraction (seconds, rates, prices), each with its least value.
DECIMAL_SETTINGS: dict[str, float] = {
    "PLAN_TIME_LIMIT_S": 1,
    "WORKER_PLANS_INTERVAL_S": 0.1,
    "SMS_RATE_PER_S": 0,
    "SMS_HTTP_TIMEOUT_S": 0.1,
    "SMS_SENDING_TIMEOUT_S": 0.1,
    "SMS_RETRY_BASE_S": 0,
    "SMS_PRICE_PER_SEGMENT": 0,
    "WORKER_DISPATCH_INTERVAL_S": 0.1,
    "WORKER_RECONCILE_INTERVAL_S": 0.1,
    "WORKER_REMINDERS_INTERVAL_S": 0.1,
    "WORKER_LINKS_INTERVAL_S": 0.1,
    "WORKER_IDEMPOTENCY_INTERVAL_S": 0.1,
    "WORKER_IMPORTS_INTERVAL_S": 0.1,
    "WORKER_REPORT_TOTALS_INTERVAL_S": 0.1,
}
#: Settings where None means "no limit" (Flask's and Flask-WTF's own meaning).
UNLIMITED_ALLOWED = frozenset({"WTF_CSRF_TIME_LIMIT", "MAX_CONTENT_LENGTH", "MAX_FORM_MEMORY_SIZE"})


#: No numeric setting means anything beyond this (sizes, counts, seconds, days); larger ones
#: would overflow the database's integers where they become a LIMIT or an interval.
LARGEST_SETTING = 2**31 - 1


def _check_numbers(config: dict[str, Any]) -> None:
    """Raise ConfigError, in one line, for the first numeric setting of the wrong type or range."""
    for key, least in (*WHOLE_SETTINGS.items(), *DECIMAL_SETTINGS.items()):
        value = config.get(key)
        if value is None and key in UNLIMITED_ALLOWED:
            continue
        whole = key in WHOLE_SETTINGS
        if whole and isinstance(value, float) and value.is_integer():
            value = config[key] = int(value)
        kinds = (int,) if whole else (int, float)
        if (
            isinstance(value, bool)
            or not isinstance(value, kinds)
            # math.isfinite() of a 400-digit int raises OverflowError: floats only.
            or (isinstance(value, float) and not math.isfinite(value))
            or not least <= value <= LARGEST_SETTING
        ):
            shown = (
                repr(value) if not isinstance(value, int) or value.bit_length() < 128 else "huge"
            )
            shown = shown if len(shown) <= 40 else shown[:37] + "..."
            kind = "a whole number" if whole else "a number"
            raise ConfigError(
                f"VH_{key} must be {kind} from {least:g} to {LARGEST_SETTING} (it is {shown})"
            )


def metrics_networks(value: object) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """Parse ``VH_METRICS_ALLOW`` (a JSON list, or a comma-separated string, of networks)."""
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise ConfigError('VH_METRICS_ALLOW must be a list of networks, e.g. ["10.0.0.0/8"]')
    networks = []
    for item in items:
        text = str(item).strip()
        if not text:
            continue
        try:
            networks.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            raise ConfigError(f"VH_METRICS_ALLOW: {text!r} is not a network") from None
    return networks


def _database_uri(app: Flask) -> str:
    """Return the configured database URI, normalised for the drivers we ship."""
    uri = app.config.get("SQLALCHEMY_DATABASE_URI") or os.environ.get("DATABASE_URL")
    if not uri:
        os.makedirs(app.instance_path, exist_ok=True)
        return "sqlite:///" + os.path.join(app.instance_path, "volunteer_hub.sqlite3")
    # Heroku-style and plain URIs name no driver; we ship psycopg 3, not psycopg2.
    for prefix in ("postgres://", "postgresql://"):
        if uri.startswith(prefix):
            return "postgresql+psycopg://" + uri[len(prefix) :]
    return uri


def _demo_secret(app: Flask) -> str:
    """Return the demo's random secret, made once and kept in the instance folder."""
    os.makedirs(app.instance_path, exist_ok=True)
    path = os.path.join(app.instance_path, "demo-secret-key")
    if not os.path.exists(path):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    with open(path) as handle:
        return handle.read().strip()


def load_config(app: Flask, overrides: dict[str, Any] | None = None) -> None:
    """Fill ``app.config`` from defaults, ``VH_*`` environment variables and overrides."""
    app.config.from_mapping(DEFAULTS)
    app.config.from_prefixed_env("VH")
    if overrides:
        app.config.from_mapping(overrides)
    _check_numbers(app.config)

    app.config["SQLALCHEMY_DATABASE_URI"] = _database_uri(app)
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    options = dict(app.config["SQLALCHEMY_ENGINE_OPTIONS"])
    if uri.startswith("postgresql"):
        connect_args = dict(options.get("connect_args", {}))
        connect_args.setdefault("connect_timeout", app.config["DATABASE_CONNECT_TIMEOUT_S"])
        if uri.startswith("postgresql+psycopg:"):
            # Every statement planned for its own values: psycopg prepares a statement run five
            # times on a connection, and PostgreSQL then moved the reports' date-range queries
            # to a generic plan that took a country's report from 2 s to 30 s by the eleventh
            # call on a pooled connection (docs/performance.md). Also what PgBouncer's
            # transaction mode needs.
            connect_args.setdefault("prepare_threshold", None)
        options["connect_args"] = connect_args
    elif uri.startswith("sqlite"):
        # The web workers and the SMS worker share one file: wait for locks instead of failing.
        connect_args = dict(options.get("connect_args", {}))
        connect_args.setdefault("timeout", 15)
        options["connect_args"] = connect_args
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = options

    if app.config["DEMO"] and app.config["SECRET_KEY"] == DEFAULT_SECRET_KEY:
        app.config["SECRET_KEY"] = _demo_secret(app)

    relaxed = (
        app.debug
        or app.testing
        or app.config.get("DEBUG")
        or app.config.get("TESTING")
        or app.config["DEMO"]
    )
    if app.config["SESSION_COOKIE_SECURE"] is None:
        app.config["SESSION_COOKIE_SECURE"] = not relaxed
        app.config["REMEMBER_COOKIE_SECURE"] = not relaxed
    if not relaxed and app.config["SECRET_KEY"] in (DEFAULT_SECRET_KEY, "", None):
        raise ConfigError(
            "VH_SECRET_KEY is not set: set it to a long random value "
            "(python -c 'import secrets; print(secrets.token_hex(32))') "
            "or use --debug for development"
        )
    app.config["METRICS_NETWORKS"] = metrics_networks(app.config.get("METRICS_ALLOW"))
    from volunteer_hub.services.messaging.sealing import MessageKeyError, message_keys

    try:
        message_keys(app.config)
    except MessageKeyError as exc:
        raise ConfigError(str(exc)) from None
    if app.config["BABEL_DEFAULT_LOCALE"] not in app.config["LANGUAGES"]:
        raise ConfigError(
            f"VH_BABEL_DEFAULT_LOCALE must be one of {', '.join(app.config['LANGUAGES'])}"
        )
