"""Conditional reads of the API's single resources: a strong ``ETag`` and ``If-None-Match``.

The ETag is a hash of the answer's body, so it changes whenever anything a client reads
changes (a plan's progress is written without bumping its ``row_version``, so the row version
alone would not do). A read sending ``If-None-Match`` with the current ETag gets 304 with no
body and the ETag again. A change sends ``If-Match`` with the ETag it read: 412 when it is no
longer current, 428 without it.
"""

from __future__ import annotations

import hashlib

from flask import Response, request
from flask_babel import gettext as _

from volunteer_hub.web import problems


def etag_of(body: bytes) -> str:
    """Return the (unquoted) strong ETag of a body."""
    return hashlib.sha256(body).hexdigest()[:32]


def tagged(response: Response) -> Response:
    """Add the ETag of its body to a 200 (a change's answer: If-None-Match means nothing there)."""
    if response.status_code == 200:
        response.set_etag(etag_of(response.get_data()))
    return response


def conditional(response: Response) -> Response:
    """Add the ETag to a 200 and answer 304 when ``If-None-Match`` holds it."""
    if response.status_code != 200:
        return response
    tagged(response)
    # Only If-None-Match: a Range or If-Modified-Since has no meaning for these JSON answers.
    if request.if_none_match and request.if_none_match.contains_weak(response.get_etag()[0]):
        etag = response.headers["ETag"]
        not_modified = Response(status=304)
        not_modified.headers["ETag"] = etag
        return not_modified
    return response


def precondition_failed(current: str) -> Response | None:
    """Check a change's ``If-Match`` against the resource's current (unquoted) ETag.

    Return None when the change may go ahead, else the problem to answer: 428 without
    ``If-Match`` (a change made blind could undo someone else's), 412 when it holds no current
    ETag. The comparison is strong (RFC 9110): a weak ``W/"..."`` never matches; ``*`` matches
    the resource, which exists.
    """
    if "If-Match" not in request.headers:
        return problems.problem(
            428,
            _("Read the resource first and send its ETag in If-Match."),
            type_=problems.PRECONDITION_REQUIRED,
        )
    if not request.if_match.contains(current):
        return stale()
    return None


def stale() -> Response:
    """Return the 412 of a change based on an outdated read."""
    return problems.problem(
        412,
        _("Someone else changed this since you read it. Read it again, then retry."),
        type_=problems.STALE,
    )
