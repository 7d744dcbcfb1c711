"""Logs: one JSON object per line (or plain text), each carrying its request or job run id.

``VH_LOG_FORMAT=json`` (production, see deploy/) or ``text`` (the default, for a terminal);
``VH_LOG_LEVEL`` (``INFO``). The web process gets its logging from ``gunicorn.conf.py``
(``logconfig_dict = dict_config(...)``), the worker from :func:`configure`. Every record gets
``request_id``: in the web, the proxy's ``X-Request-ID`` when it looks like one (nginx's
``$request_id``) or a new one, echoed in the response's ``X-Request-ID``; in the worker, one id
per job run (``sms-dispatch-1a2b3c4d``), so the lines of one run can be found together.
"""

from __future__ import annotations

import contextvars
import logging
import logging.config
import re
import uuid
from typing import Any

from flask import Flask, Response, g, request
from pythonjsonlogger.json import JsonFormatter

from volunteer_hub.redaction import redacted_traceback

#: The id of the request or job run a log record belongs to ("-" outside both).
REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
HEADER = "X-Request-ID"
# What we accept from the proxy: long enough to be unique, short and plain enough to log.
_INCOMING = re.compile(r"[A-Za-z0-9._:-]{8,128}")
FORMATS = ("json", "text")
JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(process)d %(message)s %(request_id)s"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"


class RedactingJsonFormatter(JsonFormatter):
    """python-json-logger's formatter, writing tracebacks redacted (it ignores exc_text)."""

    def formatException(self, ei: Any) -> str:  # noqa: N802 (logging's name)
        return redacted_traceback(ei)


class LogSettingsError(ValueError):
    """``VH_LOG_FORMAT`` or ``VH_LOG_LEVEL`` cannot work; one line a person can act on."""


class ContextFilter(logging.Filter):
    """Add ``request_id`` (and the process's role, ``web`` or ``worker``) to every record."""

    def __init__(self, component: str = "web") -> None:
        super().__init__()
        self.component = component

    def filter(self, record: logging.LogRecord) -> bool:
        rid = REQUEST_ID.get()
        if rid == "-" and isinstance(record.args, dict):
            # gunicorn's access line is written after the request: take the id it answered.
            rid = str(record.args.get("{x-request-id}o") or "-")
        record.request_id = rid
        record.component = self.component
        return True


def dict_config(fmt: str = "text", level: str = "INFO", component: str = "web") -> dict[str, Any]:
    """Return a ``logging.config.dictConfig`` mapping (gunicorn's ``logconfig_dict`` too)."""
    fmt = (fmt or "text").strip().lower()
    if fmt not in FORMATS:
        raise LogSettingsError(f"VH_LOG_FORMAT={fmt!r} must be one of {', '.join(FORMATS)}")
    level = (level or "INFO").strip().upper()
    if level not in logging.getLevelNamesMapping():
        raise LogSettingsError(f"VH_LOG_LEVEL={level!r} is not a logging level (INFO, DEBUG…)")
    formatter: dict[str, Any]
    if fmt == "json":
        formatter = {
            "()": RedactingJsonFormatter,
            "fmt": JSON_FIELDS + " %(component)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        }
    else:
        formatter = {"format": TEXT_FORMAT}
    handler = {
        "class": "logging.StreamHandler",
        "formatter": "main",
        "filters": ["context"],
        "stream": "ext://sys.stderr",
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": ContextFilter, "component": component}},
        "formatters": {"main": formatter},
        "handlers": {"main": handler},
        "root": {"level": level, "handlers": ["main"]},
        "loggers": {
            # gunicorn's own loggers: the same handler, not gunicorn's plain one.
            "gunicorn.error": {"level": level, "handlers": ["main"], "propagate": False},
            "gunicorn.access": {"level": "INFO", "handlers": ["main"], "propagate": False},
            # APScheduler logs every run at INFO; the jobs log what they did themselves.
            "apscheduler": {"level": "WARNING"},
            # Alembic announces its plugins at import; the migrations log through alembic.ini.
            "alembic.runtime.plugins": {"level": "WARNING"},
        },
    }


def configure(config: Any, component: str) -> None:
    """Set up logging for a process from ``VH_LOG_FORMAT`` and ``VH_LOG_LEVEL``.

    Like ``logging.basicConfig``, it leaves a root logger that already has handlers alone
    (a test runner's, an embedding program's); the settings are checked either way.
    """
    settings = dict_config(
        config.get("LOG_FORMAT", "text"), config.get("LOG_LEVEL", "INFO"), component
    )
    if logging.getLogger().handlers:
        return
    logging.config.dictConfig(settings)


def request_id_from(incoming: str | None) -> str:
    """Return the proxy's request id when it looks like one, else a new one."""
    if incoming and _INCOMING.fullmatch(incoming):
        return incoming
    return uuid.uuid4().hex


def job_run_id(job: str) -> str:
    """Return a new id for one run of a worker job."""
    return f"{job}-{uuid.uuid4().hex[:8]}"


def init_app(app: Flask) -> None:
    """Give every request an id: in the log records, in ``g`` and in the response header."""

    @app.before_request
    def _take_request_id() -> None:
        rid = request_id_from(request.headers.get(HEADER))
        g.request_id = rid
        g._request_id_token = REQUEST_ID.set(rid)

    @app.after_request
    def _echo_request_id(response: Response) -> Response:
        rid = g.get("request_id")
        if rid:
            response.headers[HEADER] = rid
        return response

    @app.teardown_request
    def _forget_request_id(exc: BaseException | None) -> None:
        token = g.pop("_request_id_token", None)
        if token is not None:
            REQUEST_ID.reset(token)
