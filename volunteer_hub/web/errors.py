"""Error pages: HTML for people, problem details for /api/v1 (see problems), never a trace."""

from __future__ import annotations

from contextlib import suppress

from flask import Flask, Response, g, jsonify, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from werkzeug.exceptions import HTTPException, InternalServerError, NotFound

from volunteer_hub.extensions import db, login_manager
from volunteer_hub.services.access import NotVisibleError
from volunteer_hub.web.problems import is_api_request, problem, titles


def wants_json() -> bool:
    """Return True for API calls and clients that ask for JSON."""
    if request.path.startswith("/api/") or request.path.startswith("/webhooks/"):
        return True
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return (
        best == "application/json"
        and request.accept_mimetypes[best] > request.accept_mimetypes["text/html"]
    )


def render_error(code: int, message: str | None = None) -> tuple[Response | str, int]:
    """Render an error in the form the client expects."""
    if is_api_request():
        return problem(code, message), code
    known = titles()  # one table of messages for the pages and the API
    text = message or known.get(code, known[500])
    if wants_json():
        return jsonify(error={"code": code, "message": text}), code
    return render_template("error.html", code=code, message=text), code


def init_app(app: Flask) -> None:
    """Register the error handlers."""

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):  # type: ignore[no-untyped-def]
        response, code = render_error(exc.code or 500)
        final = response if isinstance(response, Response) else app.make_response((response, code))
        final.status_code = code
        # Keep headers like Retry-After (429) and Allow (405).
        for key, value in exc.get_headers():
            if key.lower() != "content-type":
                final.headers[key] = value
        if exc.code == 401 and request.path.startswith("/api/"):
            final.headers["WWW-Authenticate"] = 'Bearer realm="volunteer_hub"'
        return final

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):  # type: ignore[no-untyped-def]
        return render_error(
            400, _("The form expired or was sent from elsewhere. Please reload it and try again.")
        )

    @app.errorhandler(NotVisibleError)
    def not_visible(exc: NotVisibleError):  # type: ignore[no-untyped-def]
        return render_error(NotFound.code)

    @app.errorhandler(OperationalError)
    def database_unavailable(exc: OperationalError):  # type: ignore[no-untyped-def]
        # The database went away (restart, network): say so with a 503 and let the pool
        # reconnect on the next request.
        first_line = str(exc.orig or exc).splitlines()[0] if str(exc.orig or exc) else ""
        app.logger.warning("database unavailable: %s", first_line)
        with suppress(SQLAlchemyError):
            db.session.rollback()
        # The page must not ask the database who is signed in (it would fail again and turn
        # the 503 into a 500): render it as for a visitor.
        g._login_user = login_manager.anonymous_user()
        response, code = render_error(503)
        final = app.make_response((response, code))
        final.headers["Retry-After"] = "30"
        return final

    @app.errorhandler(InternalServerError)
    def internal_error(exc: InternalServerError):  # type: ignore[no-untyped-def]
        return render_error(500)
