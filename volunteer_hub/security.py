"""Who may do what: sign-in sessions, bearer tokens, role checks and security headers."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Flask, Response, abort, g, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from volunteer_hub.extensions import db, login_manager
from volunteer_hub.models import Role, User

F = TypeVar("F", bound=Callable[..., Any])

# No inline script or style anywhere: templates link static files only.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        # Map tiles come from the configured tile server.
        "img-src 'self' data: {tiles}",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


#: The key in the (signed) session cookie naming its server-side ``UserSession`` row.
SESSION_KEY = "_sk"


@login_manager.user_loader
def _load_user(session_id: str) -> User | None:
    from flask import session as cookie

    from volunteer_hub.services.reference.accounts import is_session_live

    user_id, _, version = session_id.partition(":")
    if not user_id.isdigit() or len(user_id) > 10:
        return None
    user = db.session.get(User, int(user_id))
    if user is None or not user.active or str(user.session_version) != version:
        return None
    # Decided on every request: a deactivation, a password change or a sign-out elsewhere
    # holds from the next request on, and a cookie replayed after sign-out is refused.
    if not is_session_live(db.session, user.id, cookie.get(SESSION_KEY)):
        return None
    return user


#: Endpoints a person who must replace a one-time password may still reach.
_PASSWORD_CHANGE_ALLOWED = {"account.password", "auth.logout", "static", "public.switch_language"}


def _require_new_password():  # type: ignore[no-untyped-def]
    """Send someone signed in with a one-time password to choose their own first."""
    from flask import redirect, url_for

    if (
        request.endpoint
        and request.endpoint not in _PASSWORD_CHANGE_ALLOWED
        and not request.path.startswith("/api/")
        and current_user.is_authenticated
        and current_user.must_change_password
    ):
        return redirect(url_for("account.password"))
    return None


def roles_required(*roles: Role) -> Callable[[F], F]:
    """Let only signed-in accounts with one of these roles through (401 → login, else 403)."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator


coordinator_required = roles_required(Role.ADMIN, Role.COORDINATOR)
admin_required = roles_required(Role.ADMIN)


def client_ip() -> str | None:
    """Return the client's address (the real one behind VH_PROXY_FIX)."""
    return request.remote_addr


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def _security_headers(response: Response) -> Response:
    from flask import current_app

    tiles = _origin(current_app.config.get("MAP_TILE_URL") or "")
    response.headers.setdefault(
        "Content-Security-Policy", CONTENT_SECURITY_POLICY.format(tiles=tiles).replace("  ", " ")
    )
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault(
        "Permissions-Policy", "camera=(), microphone=(), geolocation=(self)"
    )
    if request.is_secure:
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    # Pages with personal data must not linger in shared caches or the back button of a
    # borrowed phone.
    if getattr(g, "private_page", False) or current_user.is_authenticated:
        response.headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    """Bind the login manager and add security headers to every response."""
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please sign in to see this page.")
    login_manager.login_message_category = "info"
    login_manager.session_protection = "strong"
    app.before_request(_require_new_password)
    app.after_request(_security_headers)
