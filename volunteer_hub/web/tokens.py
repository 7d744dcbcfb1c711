"""Bearer tokens: who an API call (or a report download by a script) acts for."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import abort, g, request

from volunteer_hub.extensions import db
from volunteer_hub.models import Role, User
from volunteer_hub.services.reference.accounts import user_for_token


def bearer_user() -> User | None:
    """Return the account of the request's bearer token, or None."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return user_for_token(db.session, token.strip())


def token_required(*roles: Role) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Require a valid bearer token of an account with one of these roles (401, else 403)."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            user = bearer_user()
            if user is None:
                abort(401)
            if roles and user.role not in roles:
                abort(403)
            g.api_user = user
            return view(*args, **kwargs)

        return wrapped

    return decorator
