"""The public place lists the forms fetch on demand: a province's communes, a commune's hamlets.

Public and cacheable: the lists are reference data, the same for everyone. A code that is not
one we could know is a 400; a province or commune the forms do not offer is a 404.
"""

from __future__ import annotations

import re

from flask import Blueprint, Response, current_app, jsonify, request
from flask_babel import gettext as _

from volunteer_hub.extensions import db, limiter
from volunteer_hub.models import Hamlet
from volunteer_hub.models.places import in_natural_order
from volunteer_hub.services.intake.help_requests import (
    served_commune,
    served_communes,
    served_province,
)

bp = Blueprint("places", __name__)

#: Official codes are short and plain: letters and digits, at most 8 (the columns' size).
_CODE = re.compile(r"[A-Za-z0-9]{1,8}")
#: How long a browser or proxy may keep a list (places change rarely: an admin adds a hamlet).
MAX_AGE = 3600


def _places_limit() -> str:
    return str(current_app.config["RATELIMIT_PLACES"])


def _problem(status: int, message: str) -> tuple[Response, int]:
    return jsonify({"error": message}), status


def _code(name: str) -> str | None:
    value = request.args.get(name, "")
    return value if _CODE.fullmatch(value) else None


def _cached(response: Response) -> Response:
    response.headers["Cache-Control"] = f"public, max-age={MAX_AGE}"
    response.vary.add("Accept-Language")
    return response


@bp.get("/places/communes")
@limiter.limit(_places_limit)
def communes():  # type: ignore[no-untyped-def]
    """The communes of a served province: ``?province=CODE``."""
    code = _code("province")
    if code is None:
        return _problem(400, _("Give a province code: ?province=CODE."))
    province = served_province(db.session, code)
    if province is None:
        return _problem(404, _("We do not serve this province."))
    body = {
        "province": {"code": province.code, "name": province.name},
        "communes": [
            {"code": c.code, "name": c.name, "lat": c.lat, "lng": c.lng}
            for c in served_communes(db.session, province)
        ],
    }
    return _cached(jsonify(body))


@bp.get("/places/hamlets")
@limiter.limit(_places_limit)
def hamlets():  # type: ignore[no-untyped-def]
    """The hamlets and residential groups of a served commune: ``?commune=CODE``."""
    code = _code("commune")
    if code is None:
        return _problem(400, _("Give a commune code: ?commune=CODE."))
    commune = served_commune(db.session, code)
    if commune is None:
        return _problem(404, _("We do not serve this commune."))
    rows = in_natural_order(
        db.session.scalars(db.select(Hamlet).where(Hamlet.commune_id == commune.id))
    )
    body = {
        "commune": {"code": commune.code, "name": commune.name},
        "hamlets": [{"id": h.id, "name": h.name} for h in rows],
    }
    return _cached(jsonify(body))
