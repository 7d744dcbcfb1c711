"""Bearer tokens: who an API call (or a report download by a script) acts for."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import abort, g, request
from flask_limiter.util import get_remote_address
from sqlalchemy import select

from volunteer_hub.extensions import db
from volunteer_hub.models import ApiToken, Role, User
from volunteer_hub.services.reference.accounts import hash_token, user_for_token

_UNSET = object()


def bearer_token() -> tuple[User, int] | None:
    """Return the account and the token id of the request's bearer token, or None.

    Looked up once per request (the rate limit's key and the view both ask).
    """
    cached = g.get("_bearer", _UNSET)
    if cached is not _UNSET:
        return cached  # type: ignore[return-value]
    found: tuple[User, int] | None = None
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() == "bearer" and token:
        user = user_for_token(db.session, token)
        if user is not None:
            token_id = db.session.scalar(
                select(ApiToken.id).where(ApiToken.token_hash == hash_token(token))
            )
            if token_id is not None:
                found = (user, token_id)
    g._bearer = found
    return found


def bearer_user() -> User | None:
    """Return the account of the request's bearer token, or None."""
    found = bearer_token()
    return found[0] if found else None


def token_required(*roles: Role) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Require a valid bearer token of an account with one of these roles (401, else 403)."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            found = bearer_token()
            if found is None:
                abort(401)
            user, token_id = found
            if roles and user.role not in roles:
                abort(403)
            g.api_user = user
            g.api_token_id = token_id
            return view(*args, **kwargs)

        return wrapped

    return decorator


def api_rate_key() -> str:
    """Return the rate limit's key: the bearer token's id when valid, else the client address.

    Two partner apps behind one address (a NAT, a shared office) each get their own budget,
    and a busy app cannot starve another. The id is the row's, never the token itself.
    """
    found = bearer_token()
    if found is not None:
        return f"token:{found[1]}"
    return f"address:{get_remote_address()}"
