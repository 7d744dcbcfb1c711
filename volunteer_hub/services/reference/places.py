"""Vietnam's provinces and communes (loaded offline from the vietnamadminunits package), and
where a person says they are: a commune, a hamlet, a map pin."""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session
from unidecode import unidecode
from vietnamadminunits.database import get_data

from volunteer_hub.models import Commune, Hamlet, HamletKind, Province, User

# Vietnam's mainland and islands, generously: a pin outside is a mistake.
VIETNAM_LAT = (8.0, 23.5)
VIETNAM_LNG = (102.0, 117.5)

_FIELDS = [
    "province",
    "provinceShort",
    "provinceCode",
    "provinceLat",
    "provinceLon",
    "ward",
    "wardShort",
    "wardType",
    "wardCode",
    "wardLat",
    "wardLon",
    "wardAreaKm2",
]


class PlaceError(ValueError):
    """A place could not be found or loaded; the message says why."""


@dataclass(frozen=True)
class LoadReport:
    """What ``load_places`` did."""

    provinces: int
    communes_added: int
    communes_updated: int


def place_key(name: str) -> str:
    """Return a comparison key: no tone marks, no case, no spaces or punctuation."""
    return re.sub(r"[^a-z0-9]", "", unidecode(name).lower())


_PROVINCE_PREFIXES = ("thanhpho", "tinh", "tp")


def match_province(rows: list[dict], wanted: str) -> str:
    """Return the province code whose name matches ``wanted`` ("Huế", "hue", "Thành phố Huế")."""
    key = place_key(wanted)
    for prefix in _PROVINCE_PREFIXES:
        if key.startswith(prefix) and len(key) > len(prefix):
            key = key[len(prefix) :]
            break
    names: dict[str, str] = {}
    for row in rows:
        names[row["provinceCode"]] = row["provinceShort"]
        keys = {place_key(row["province"]), place_key(row["provinceShort"]), row["provinceCode"]}
        if key in keys:
            return row["provinceCode"]
    close = sorted({n for n in names.values() if key and key in place_key(n)})
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    raise PlaceError(f"no province matches {wanted!r}.{hint}")


def load_places(session: Session, province: str | None = None) -> LoadReport:
    """Insert or update provinces and communes (all, or one province's)."""
    rows = get_data(fields=_FIELDS)
    if province:
        code = match_province(rows, province)
        rows = [r for r in rows if r["provinceCode"] == code]

    provinces = {p.code: p for p in session.scalars(select(Province))}
    communes = {c.code: c for c in session.scalars(select(Commune))}
    added = updated = 0
    seen_provinces: set[str] = set()
    for row in rows:
        pcode = row["provinceCode"]
        prov = provinces.get(pcode)
        if prov is None:
            prov = provinces[pcode] = Province(code=pcode)
            session.add(prov)
        if pcode not in seen_provinces:
            prov.name = row["province"]
            prov.short_name = row["provinceShort"]
            prov.lat, prov.lng = row["provinceLat"], row["provinceLon"]
            seen_provinces.add(pcode)

        commune = communes.get(row["wardCode"])
        if commune is None:
            commune = communes[row["wardCode"]] = Commune(code=row["wardCode"], province=prov)
            session.add(commune)
            added += 1
        else:
            updated += 1
            commune.province = prov
        commune.name = row["ward"]
        commune.short_name = row["wardShort"]
        commune.kind = row["wardType"]
        commune.lat, commune.lng = row["wardLat"], row["wardLon"]
        commune.area_km2 = row["wardAreaKm2"]
    session.flush()
    return LoadReport(len(seen_provinces), added, updated)


def add_hamlet(
    session: Session,
    commune: Commune,
    name: str,
    kind: HamletKind = HamletKind.HAMLET,
    lat: float | None = None,
    lng: float | None = None,
) -> Hamlet:
    """Return the commune's hamlet of that name, creating it when it is new."""
    name = " ".join(name.split())
    if not name:
        raise PlaceError("a hamlet needs a name")
    existing = session.scalar(
        select(Hamlet).where(Hamlet.commune_id == commune.id, Hamlet.name == name)
    )
    if existing is not None:
        return existing
    hamlet = Hamlet(commune=commune, name=name[:120], kind=kind, lat=lat, lng=lng)
    session.add(hamlet)
    session.flush()
    return hamlet


def find_commune(session: Session, code: str) -> Commune | None:
    """Return the commune with that official code, or None."""
    return session.scalar(select(Commune).where(Commune.code == code.strip()))


def resolve_place(
    session: Session,
    commune_code: str,
    *,
    hamlet_id: int | None = None,
    hamlet_name: str | None = None,
    user: User | None = None,
) -> tuple[Commune | None, Hamlet | None, dict[str, list[str]]]:
    """Find the commune and hamlet a person chose, with the errors to show (field: messages).

    A coordinator may only choose one of their communes. A typed hamlet name that matches a
    known hamlet of the commune links to it (imports, phone intake).
    """
    errors: dict[str, list[str]] = {}
    commune = session.scalar(select(Commune).where(Commune.code == commune_code))
    if commune is None:
        errors["commune"] = [_("Choose a commune from the list.")]
    elif user is not None and user.is_coordinator and not user.can_see_commune(commune.id):
        errors["commune"] = [_("This commune is not one of yours.")]
    hamlet = None
    if hamlet_id is not None and commune is not None:
        hamlet = session.get(Hamlet, hamlet_id)
        if hamlet is None or hamlet.commune_id != commune.id:
            errors["hamlet_id"] = [_("Choose a hamlet of the chosen commune.")]
            hamlet = None
    elif hamlet_name and commune is not None:
        wanted = place_key(hamlet_name)
        hamlet = next((h for h in commune.hamlets if place_key(h.name) == wanted), None)
    return commune, hamlet, errors


def pin_errors(lat: float | None, lng: float | None) -> dict[str, list[str]]:
    """Return what is wrong with a map pin (nothing when there is none, or it is in Vietnam)."""
    if (lat is None) != (lng is None):
        return {"lat": [_("The map pin is incomplete; place it again or leave it out.")]}
    if lat is not None and lng is not None:
        inside = VIETNAM_LAT[0] <= lat <= VIETNAM_LAT[1] and VIETNAM_LNG[0] <= lng <= VIETNAM_LNG[1]
        if not inside:
            return {"lat": [_("The map pin is outside Vietnam.")]}
    return {}
