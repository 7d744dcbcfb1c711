"""Conditional reads of the API's single resources: a strong ``ETag`` and ``If-None-Match``.

The ETag is a hash of the answer's body, so it changes whenever anything a client reads
changes (a plan's progress is written without bumping its ``row_version``, so the row version
alone would not do). A read sending ``If-None-Match`` with the current ETag gets 304 with no
body and the ETag again.
"""

from __future__ import annotations

import hashlib

from flask import Response, request


def etag_of(body: bytes) -> str:
    """Return the (unquoted) strong ETag of a body."""
    return hashlib.sha256(body).hexdigest()[:32]


def conditional(response: Response) -> Response:
    """Add the ETag to a 200 and answer 304 when ``If-None-Match`` holds it."""
    if response.status_code != 200:
        return response
    response.set_etag(etag_of(response.get_data()))
    # Only If-None-Match: a Range or If-Modified-Since has no meaning for these JSON answers.
    if request.if_none_match and request.if_none_match.contains_weak(response.get_etag()[0]):
        etag = response.headers["ETag"]
        not_modified = Response(status=304)
        not_modified.headers["ETag"] = etag
        return not_modified
    return response
