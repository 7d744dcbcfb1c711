"""Public pages: the home page, the language switch and the health check."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    send_from_directory,
)

from volunteer_hub.extensions import db, limiter
from volunteer_hub.i18n import LANG_COOKIE
from volunteer_hub.services.health import database_ok, ratelimit_store_ok

bp = Blueprint("public", __name__)


@bp.get("/")
def home():  # type: ignore[no-untyped-def]
    """Show what the service is and where to start."""
    return render_template("public/home.html")


def safe_next(target: str | None) -> str:
    """Return ``target`` if it is a path on this site, else the home page."""
    # Control characters (CR/LF would split the Location header) and backslashes (browsers
    # read "/\\evil.example" as "//evil.example") never belong in a path of ours.
    if not target or "\\" in target or any(ord(ch) < 32 or ord(ch) == 127 for ch in target):
        return "/"
    try:
        parts = urlsplit(target)
    except ValueError:
        return "/"
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


@bp.get("/lang/<code>")
def switch_language(code: str):  # type: ignore[no-untyped-def]
    """Remember the visitor's language and go back to where they were."""
    response = make_response(redirect(safe_next(request.args.get("next"))))
    if code in current_app.config["LANGUAGES"]:
        response.set_cookie(
            LANG_COOKIE,
            code,
            max_age=365 * 24 * 3600,
            httponly=True,
            samesite="Lax",
            secure=current_app.config["SESSION_COOKIE_SECURE"],
        )
    return response


@bp.get("/vendor/<path:filename>")
def vendor(filename: str):  # type: ignore[no-untyped-def]
    """Serve front-end libraries installed as Python packages (Leaflet from xstatic-leaflet)."""
    import xstatic.pkg.leaflet

    folder, _, rest = filename.partition("/")
    if folder != "leaflet" or not rest:
        abort(404)
    return send_from_directory(xstatic.pkg.leaflet.BASE_DIR, rest, max_age=30 * 24 * 3600)


@bp.get("/healthz")
@limiter.exempt
def healthz():  # type: ignore[no-untyped-def]
    """Report whether the app and its database answer (200 or 503), and the rate-limit store.

    Without the store (Redis) the site keeps serving with per-process limits: 200 with
    ``"ratelimit": "degraded"``, so it is seen and fixed but no traffic is turned away.
    """
    ok = database_ok(db.session)
    limits_ok = not current_app.config.get("RATELIMIT_ENABLED", True) or ratelimit_store_ok(
        limiter.storage
    )
    status = "error" if not ok else "ok" if limits_ok else "degraded"
    body = {
        "status": status,
        "database": "ok" if ok else "error",
        "ratelimit": "ok" if limits_ok else "degraded",
    }
    if not ok:
        # As the pages say during an outage: try again in half a minute.
        return jsonify(body), 503, {"Retry-After": "30"}
    return jsonify(body), 200
