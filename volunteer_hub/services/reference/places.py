"""Vietnam's provinces and communes, loaded offline from the vietnamadminunits package."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session
from unidecode import unidecode
from vietnamadminunits.database import get_data

from volunteer_hub.models import Commune, Hamlet, HamletKind, Province

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
