"""``/api/docs``: the API's reference, read from /api/v1/openapi.json by Swagger UI.

Swagger UI's files come from the ``swagger-ui-py`` package (installed from PyPI, pinned in
requirements.lock), never from a CDN; the page starts it from our own script, so its policy
allows scripts, styles, images and fetches from this origin only: no inline code, no data: URIs.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, abort, render_template, send_from_directory

bp = Blueprint("api_docs", __name__, url_prefix="/api/docs")

#: The Swagger UI files the page loads; the package's other files (its editor) are not served.
ASSETS = frozenset({"swagger-ui.css", "swagger-ui-bundle.js"})

#: Only this origin, for everything. Swagger UI's CSS icons are data: URIs: refused, they fall
#: back to text (the page reads the same; tested in test_browser_api_docs.py).
POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


def assets_folder() -> Path:
    """Return the folder of Swagger UI's files in the installed package."""
    import swagger_ui

    return Path(swagger_ui.__file__).parent / "static"


@bp.get("")
def reference():  # type: ignore[no-untyped-def]
    """The readable reference of the API (every operation, its parameters and answers)."""
    response = Response(render_template("api/docs.html"))
    response.headers["Content-Security-Policy"] = POLICY
    return response


@bp.get("/assets/<name>")
def asset(name: str):  # type: ignore[no-untyped-def]
    """One of Swagger UI's files, from the package (cached: they change with its version)."""
    if name not in ASSETS:
        abort(404)
    response = send_from_directory(assets_folder(), name, max_age=7 * 24 * 3600)
    response.headers["Content-Security-Policy"] = POLICY
    return response
