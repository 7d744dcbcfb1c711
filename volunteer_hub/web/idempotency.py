"""``Idempotency-Key`` on the API's POSTs: a retry gets the first answer and stores nothing new.

Put under ``token_required`` (the key belongs to the token). Without the header a POST runs as
before. With it: the first call runs and its answer is kept for 24 hours; the same key with the
same method, path and body answers the kept status, body and ``Location`` again (with
``Idempotent-Replayed: true``); the same key with another body is 422; a key whose first call is
still running is 409 with ``Retry-After``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Response, current_app, g, make_response, request
from flask_babel import gettext as _

from volunteer_hub.extensions import db
from volunteer_hub.services import idempotency
from volunteer_hub.web import problems

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"


def _replay(record: Any) -> Response:
    response = current_app.response_class(
        record.body or "", status=record.status, content_type=record.content_type
    )
    if record.location:
        response.headers["Location"] = record.location
    response.headers[REPLAYED] = "true"
    return response


def idempotent(view: Callable[..., Any]) -> Callable[..., Any]:
    """Make a POST view answer a retry with the same ``Idempotency-Key`` from the first call."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        key = request.headers.get(HEADER)
        if key is None:
            return view(*args, **kwargs)
        if not idempotency.valid_key(key):
            return problems.problem(
                400, _("The Idempotency-Key must be 1 to 255 visible ASCII characters.")
            )
        print_ = idempotency.fingerprint(request.method, request.path, request.get_data())
        claim = idempotency.claim(db.session, g.api_token_id, key, print_)
        if claim.record is None and claim.previous is None:
            claim = idempotency.claim(db.session, g.api_token_id, key, print_)
        previous = claim.previous
        if previous is not None:
            if previous.fingerprint != print_:
                return problems.problem(
                    422,
                    _("This Idempotency-Key was already used for another request."),
                    type_=problems.IDEMPOTENCY_KEY_REUSED,
                )
            if previous.status is None:
                return problems.problem(
                    409,
                    _("The first request with this Idempotency-Key is still running."),
                    type_=problems.IDEMPOTENCY_KEY_IN_USE,
                    headers={"Retry-After": "1"},
                )
            return _replay(previous)
        assert claim.record is not None
        record_id = claim.record.id
        try:
            response = make_response(view(*args, **kwargs))
        except Exception:
            idempotency.release(db.session, record_id)
            raise
        if response.status_code >= 500 or response.is_streamed:
            idempotency.release(db.session, record_id)
            return response
        idempotency.finish(
            db.session,
            record_id,
            status=response.status_code,
            content_type=response.content_type,
            body=response.get_data(as_text=True),
            location=response.headers.get("Location"),
        )
        return response

    return wrapped
