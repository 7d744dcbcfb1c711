"""The one error shape of /api/v1: RFC 9457 problem details (``application/problem+json``).

Every error an API call can get, from a view (a field error, a stale ``If-Match``) or from the
app (401, 404, 405, 429, 500), is built here, so a partner app reads one shape:

    {"type": "urn:volunteer-hub:problem:validation", "title": "...", "status": 422,
     "detail": "...", "instance": "/api/v1/requests",
     "errors": [{"field": "phone", "message": "..."}]}

``type`` is ``about:blank`` when the status says it all (``title`` is then the status's
meaning); otherwise a ``urn:volunteer-hub:problem:<name>`` a client can branch on. ``title`` and
``detail`` follow ``Accept-Language`` (Vietnamese first). ``errors`` is there only for field
errors, one item per message, nested fields dotted (``windows.0.start``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

from flask import Response, request
from flask_babel import gettext as _

MEDIA_TYPE = "application/problem+json"
API_PREFIX = "/api/v1"

#: The problem types of the API beyond plain HTTP statuses (documented in the OpenAPI document).
VALIDATION = "urn:volunteer-hub:problem:validation"
IDEMPOTENCY_KEY_REUSED = "urn:volunteer-hub:problem:idempotency-key-reused"
IDEMPOTENCY_KEY_IN_USE = "urn:volunteer-hub:problem:idempotency-key-in-use"
STALE = "urn:volunteer-hub:problem:stale"
PRECONDITION_REQUIRED = "urn:volunteer-hub:problem:precondition-required"

TYPES = (VALIDATION, IDEMPOTENCY_KEY_REUSED, IDEMPOTENCY_KEY_IN_USE, STALE, PRECONDITION_REQUIRED)


def is_api_request() -> bool:
    """Return True when the current request is one of /api/v1 (and gets problem details)."""
    return request.path == API_PREFIX or request.path.startswith(API_PREFIX + "/")


def titles() -> dict[int, str]:
    """Return the short, translated title of each status the API answers with."""
    return {
        400: _("The request could not be understood."),
        401: _("Please sign in."),
        403: _("You are not allowed to see this page."),
        404: _("This page does not exist, or you are not allowed to see it."),
        405: _("This action is not allowed here."),
        406: _("This response format is not available."),
        409: _("Someone else changed this in the meantime. Please reload and try again."),
        412: _("This was changed since you read it. Read it again and retry."),
        413: _("What you sent is too large."),
        415: _("This type of content is not accepted."),
        422: _("Some fields need attention."),
        428: _("Send If-Match with the ETag you read."),
        429: _("Too many attempts. Please wait a minute and try again."),
        500: _("Something went wrong on our side. Please try again later."),
        503: _("The service is temporarily unavailable. Please try again in a few minutes."),
    }


def field_list(errors: Mapping[str, Iterable[str]]) -> list[dict[str, str]]:
    """Turn ``{field: [messages]}`` into ``[{field, message}]``, one item per message."""
    return [
        {"field": str(field), "message": str(message)}
        for field, messages in errors.items()
        for message in messages
    ]


def problem_body(
    status: int,
    detail: str | None = None,
    *,
    type_: str | None = None,
    title: str | None = None,
    errors: Mapping[str, Iterable[str]] | None = None,
) -> dict[str, object]:
    """Return the problem details object for an error of the current request."""
    known = titles()
    body: dict[str, object] = {
        "type": type_ or "about:blank",
        "title": title or known.get(status, known[500]),
        "status": status,
    }
    if detail:
        body["detail"] = detail
    body["instance"] = request.path
    if errors is not None:
        body["errors"] = field_list(errors)
    return body


def problem(
    status: int,
    detail: str | None = None,
    *,
    type_: str | None = None,
    title: str | None = None,
    errors: Mapping[str, Iterable[str]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """Return an ``application/problem+json`` response."""
    body = problem_body(status, detail, type_=type_, title=title, errors=errors)
    response = Response(json.dumps(body, ensure_ascii=False), status=status, mimetype=MEDIA_TYPE)
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def field_problem(errors: Mapping[str, Iterable[str]], detail: str | None = None) -> Response:
    """Return the 422 for input that failed validation, naming each field and its message."""
    return problem(422, detail, type_=VALIDATION, errors=errors)
