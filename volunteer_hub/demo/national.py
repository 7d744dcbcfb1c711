"""The whole country on one deployment: ``volunteer-hub demo --seed-only --scale national``.

On top of the Huế demo (its accounts, drives and plans, made through the services as usual)
this loads every one of Vietnam's 34 provinces and 3,321 communes (the real list, offline from
vietnamadminunits), a few hamlets per commune, one coordinator per province scoped to that
province's communes, and, with bulk inserts, 10,000 volunteers, 100,000 open requests and a
year of past weekend drives (one per province and week) with 1,000,000 visits, their outcomes
and 2,000,000 SMS. The people, streets and numbers are invented.

Rows are written straight to the tables in chunks (``executemany`` on SQLite, ``COPY`` on
PostgreSQL) with ids chosen here, so Python builds tuples and the database does the rest; the
ORM's defaults and mapper events do not run, which is why every column that needs a value is
given one here (``search_text`` folded the way the app folds it). ``factor`` scales every
count down for tests (0.001 seeds a national-shaped dataset in seconds).

Running it again adds nothing: the bulk part is skipped when its volunteers are already there.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import JSON, Boolean, Connection, Date, Table, func, select, text
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from volunteer_hub.demo.hue import (
    ADMIN_EMAIL,
    COORDINATOR_EMAIL,
    ELDER_MEN,
    ELDER_WOMEN,
    FAMILY,
    LANDMARKS,
    MOBILE_PREFIXES,
    SEED,
    SERVICE_WEIGHTS,
    TZ,
    YOUNG,
    DemoReport,
    _at,
    is_demo_email,
    next_saturday,
    province_coordinator_email,
    seed_demo,
)
from volunteer_hub.models import (
    AgeGroup,
    AvailabilitySlot,
    Drive,
    DriveRequest,
    DriveVolunteer,
    Hamlet,
    HamletKind,
    HelpRequest,
    MeetingPoint,
    Message,
    Plan,
    Province,
    RequestService,
    Role,
    Service,
    Skill,
    Team,
    TimeBlock,
    Visit,
    VisitOutcome,
    Volunteer,
    VolunteerAvailability,
    VolunteerSkill,
    drive_commune,
    team_member,
)
from volunteer_hub.models.base import UTCDateTime
from volunteer_hub.models.search import fold
from volunteer_hub.services.intake.help_requests import (
    CONSENT_VERSION,
    REFERENCE_ALPHABET,
    REFERENCE_LENGTH,
    suggest_priority,
)
from volunteer_hub.services.reference.accounts import create_user, find_user, one_time_password
from volunteer_hub.services.reference.places import load_places

#: The scales ``volunteer-hub demo --scale`` knows.
SCALES = ("city", "national")

#: What ``--scale national`` loads at factor 1 (besides the Huế demo).
VOLUNTEERS = 10_000
OPEN_REQUESTS = 100_000
VISITS = 1_000_000
MESSAGES_PER_VISIT = 2  # the volunteer's assignment and the household's confirmation
WEEKS = 52
HAMLETS_PER_COMMUNE = 4
TEAM_VISITS = 6  # three a block, two blocks a Saturday


@dataclass(frozen=True)
class NationalCounts:
    """How many of each thing the bulk part writes."""

    volunteers: int
    open_requests: int
    visits: int
    weeks: int

    @classmethod
    def scaled(cls, factor: float, provinces: int) -> NationalCounts:
        if not 0 < factor <= 1:
            raise ValueError("the scale factor must be above 0 and at most 1")
        weeks = max(1, round(WEEKS * factor))
        return cls(
            # Every province needs a few volunteers to make its teams of two.
            volunteers=max(round(VOLUNTEERS * factor), 6 * provinces),
            open_requests=max(round(OPEN_REQUESTS * factor), provinces),
            visits=max(round(VISITS * factor), weeks * provinces),
            weeks=weeks,
        )


# --- writing rows in bulk ----------------------------------------------------------------


def _sqlite_datetime(value: datetime) -> str:
    # The format SQLAlchemy's SQLite DateTime stores: UTC wall time, no zone.
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


class BulkWriter:
    """Write tuples into tables in chunks: ``COPY`` on PostgreSQL, ``executemany`` on SQLite."""

    CHUNK = 20_000

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.dialect = connection.dialect.name
        self.raw = connection.connection.driver_connection
        self.written: dict[str, int] = {}

    def _converters(
        self, table: Table, columns: Sequence[str]
    ) -> list[Callable[[Any], Any] | None]:
        out: list[Callable[[Any], Any] | None] = []
        for name in columns:
            kind = table.c[name].type
            if isinstance(kind, JSON):
                out.append(lambda v: json.dumps(v, ensure_ascii=False))
            elif self.dialect == "sqlite" and isinstance(kind, UTCDateTime):
                out.append(_sqlite_datetime)
            elif self.dialect == "sqlite" and isinstance(kind, Boolean):
                out.append(int)
            elif self.dialect == "sqlite" and isinstance(kind, Date):
                out.append(date.isoformat)
            else:
                out.append(None)
        return out

    def _check(self, table: Table, columns: Sequence[str]) -> None:
        needed = {
            c.name
            for c in table.c
            if not c.nullable
            and c.server_default is None
            and not (c.primary_key and c.autoincrement is True)
        }
        missing = needed - set(columns)
        if missing:
            raise ValueError(f"bulk rows for {table.name} lack {sorted(missing)}")

    def write(self, table: Table, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
        """Insert the rows (tuples in ``columns`` order); return how many."""
        self._check(table, columns)
        converters = self._converters(table, columns)
        pairs = [(i, f) for i, f in enumerate(converters) if f is not None]

        def converted(row: Sequence[Any]) -> tuple[Any, ...]:
            if not pairs:
                return tuple(row)
            values = list(row)
            for i, f in pairs:
                if values[i] is not None:
                    values[i] = f(values[i])
            return tuple(values)

        count = 0
        names = ", ".join(f'"{c}"' for c in columns)
        if self.dialect == "postgresql":
            # Table and column names come from the models, never from input.
            statement = f'COPY "{table.name}" ({names}) FROM STDIN'
            with self.raw.cursor() as cursor, cursor.copy(statement) as copy:
                for row in rows:
                    copy.write_row(converted(row))
                    count += 1
        else:
            marks = ", ".join("?" * len(columns))
            sql = f'INSERT INTO "{table.name}" ({names}) VALUES ({marks})'  # noqa: S608 - as above
            cursor = self.raw.cursor()
            chunk: list[tuple[Any, ...]] = []
            for row in rows:
                chunk.append(converted(row))
                if len(chunk) >= self.CHUNK:
                    cursor.executemany(sql, chunk)
                    count += len(chunk)
                    chunk = []
            if chunk:
                cursor.executemany(sql, chunk)
                count += len(chunk)
            cursor.close()
        self.written[table.name] = self.written.get(table.name, 0) + count
        return count

    def next_id(self, table: Table) -> int:
        return int(self.connection.scalar(select(func.coalesce(func.max(table.c.id), 0)))) + 1

    def finish(self, tables: Iterable[Table]) -> None:
        """Move PostgreSQL's sequences past the ids written here, and refresh statistics."""
        if self.dialect == "postgresql":
            for table in tables:
                if "id" in table.c:
                    name = table.name  # from the models
                    self.connection.execute(
                        text(
                            f"SELECT setval(pg_get_serial_sequence('\"{name}\"', 'id'), "  # noqa: S608
                            f'(SELECT coalesce(max(id), 0) + 1 FROM "{name}"), false)'
                        )
                    )
        self.connection.execute(text("ANALYZE"))


# --- what the rows hold ------------------------------------------------------------------


@lru_cache(maxsize=65_536)
def _folded(part: str | None) -> str:
    return fold(part)


def _search(*parts: str | None) -> str:
    return " ".join(f for f in (_folded(p) for p in parts) if f)[:600]


def _phone(rng: random.Random) -> str:
    prefix = rng.choice(MOBILE_PREFIXES)
    return "+84" + prefix[1:] + str(rng.randrange(10_000_000)).zfill(7)


class _References:
    """Unique six-character references, spread over the whole code space."""

    SPACE = len(REFERENCE_ALPHABET) ** REFERENCE_LENGTH
    STEP = 387_420_489  # 3^18: coprime with 32^6, so the walk visits every code once

    def __init__(self, taken: set[str]) -> None:
        self.taken = taken
        self.n = 0

    def next(self) -> str:
        while True:
            value = (self.n * self.STEP + 12_345) % self.SPACE
            self.n += 1
            chars = []
            for _ in range(REFERENCE_LENGTH):
                value, digit = divmod(value, len(REFERENCE_ALPHABET))
                chars.append(REFERENCE_ALPHABET[digit])
            code = "".join(chars)
            if code not in self.taken:
                self.taken.add(code)
                return code


@dataclass
class _Place:
    commune_id: int
    province_id: int
    lat: float
    lng: float
    urban: bool
    hamlets: list[tuple[int, float, float]]


def _jitter(rng: random.Random, lat: float, lng: float, km: float) -> tuple[float, float]:
    return (
        round(lat + rng.uniform(-km, km) / 111.0, 6),
        round(lng + rng.uniform(-km, km) / 107.0, 6),
    )


# --- the seed ----------------------------------------------------------------------------


def seed_national(
    session: Session,
    *,
    password: str | None = None,
    now: datetime | None = None,
    factor: float = 1.0,
    echo: Callable[[str], None] | None = None,
) -> DemoReport:
    """Seed the Huế demo, then the whole country (see the module's docstring)."""
    say = echo or (lambda _line: None)
    now = now or datetime.now(UTC)
    today = now.astimezone(TZ).date()

    load_places(session)  # all 34 provinces and 3,321 communes
    provinces = list(session.scalars(select(Province).order_by(Province.code)))
    counts = NationalCounts.scaled(factor, len(provinces))
    # One password for every demo account: a random one when an account is new and none given.
    emails = [ADMIN_EMAIL, COORDINATOR_EMAIL] + [
        province_coordinator_email(p.code) for p in provinces
    ]
    missing = any(find_user(session, e) is None for e in emails)
    chosen = password or (one_time_password() if missing else None)
    report = seed_demo(session, password=chosen, now=now)
    report.password = chosen
    say("  Huế demo seeded")

    for province in provinces:
        email = province_coordinator_email(province.code)
        user = find_user(session, email)
        if user is not None and password:
            # The demo's own account (see is_demo_email); a short password is allowed here.
            user.password_hash = generate_password_hash(password)
            user.session_version += 1
        elif user is None:
            create_user(
                session,
                email=email,
                name=f"Điều phối {province.name}",
                role=Role.COORDINATOR,
                password=chosen,
                commune_codes=[c.code for c in province.communes],
                allow_weak_password=True,
            )
            report.accounts += 1
    session.flush()

    marker = session.scalar(
        select(Volunteer.id).where(Volunteer.source == "national-demo").limit(1)
    )
    if marker is not None:
        say("  national data already there: nothing more to add")
        return report

    writer = BulkWriter(session.connection())
    places = _hamlets(session, writer, provinces)
    say(f"  {len(places)} communes, {writer.written.get('hamlet', 0)} hamlets added")
    skills = list(session.scalars(select(Skill.id)))
    services = {s.code: s.id for s in session.scalars(select(Service))}
    by_province = _volunteers(writer, places, skills, counts, today, now)
    report.volunteers += counts.volunteers
    say(f"  {counts.volunteers} volunteers")
    refs = _References(set(session.scalars(select(HelpRequest.reference))))
    report.requests += _open_requests(writer, places, services, refs, counts, now)
    say(f"  {counts.open_requests} open requests")
    drives, visits = _past_drives(
        writer, provinces, places, by_province, services, refs, counts, today
    )
    report.drives += drives
    report.requests += visits
    say(f"  {drives} past drives, {visits} visits, {visits * MESSAGES_PER_VISIT} messages")
    writer.finish(
        [
            Hamlet.__table__,
            Volunteer.__table__,
            HelpRequest.__table__,
            Drive.__table__,
            TimeBlock.__table__,
            MeetingPoint.__table__,
            Plan.__table__,
            Team.__table__,
            DriveVolunteer.__table__,
            DriveRequest.__table__,
            Visit.__table__,
            VisitOutcome.__table__,
            Message.__table__,
        ]
    )
    return report


def _hamlets(session: Session, writer: BulkWriter, provinces: list[Province]) -> dict[int, _Place]:
    """A few hamlets in each commune that has none yet; return every commune's place."""
    table = Hamlet.__table__
    have = set(session.scalars(select(Hamlet.commune_id).distinct()))
    next_id = writer.next_id(table)
    rows = []
    for province in provinces:
        for commune in province.communes:
            if commune.id in have:
                continue
            urban = commune.kind == "Phường"
            rng = random.Random(f"{SEED}:nhamlet:{commune.code}")
            for n in range(1, HAMLETS_PER_COMMUNE + 1):
                lat, lng = _jitter(rng, commune.lat or 16.0, commune.lng or 107.0, 1.5)
                name = f"Tổ dân phố {n}" if urban else f"Thôn {n}"
                kind = HamletKind.RESIDENTIAL_GROUP if urban else HamletKind.HAMLET
                rows.append((next_id, commune.id, name, kind.value, lat, lng))
                next_id += 1
    writer.write(table, ("id", "commune_id", "name", "kind", "lat", "lng"), rows)
    places: dict[int, _Place] = {}
    hamlets: dict[int, list[tuple[int, float, float]]] = {}
    for hid, cid, lat, lng in session.execute(
        select(Hamlet.id, Hamlet.commune_id, Hamlet.lat, Hamlet.lng).order_by(Hamlet.id)
    ):
        hamlets.setdefault(cid, []).append((hid, lat or 0.0, lng or 0.0))
    for province in provinces:
        for c in province.communes:
            places[c.id] = _Place(
                c.id,
                province.id,
                c.lat or province.lat or 16.0,
                c.lng or province.lng or 107.0,
                c.kind == "Phường",
                hamlets.get(c.id) or [(None, c.lat or 16.0, c.lng or 107.0)],  # type: ignore[list-item]
            )
    return places


def _volunteers(
    writer: BulkWriter,
    places: dict[int, _Place],
    skills: list[int],
    counts: NationalCounts,
    today: date,
    now: datetime,
) -> dict[int, list[tuple[int, str, str]]]:
    """Volunteers spread over the communes; return (id, travel mode, phone) per province."""
    table = Volunteer.__table__
    rng = random.Random(f"{SEED}:nvolunteers")
    next_id = writer.next_id(table)
    taken = {row[0] for row in writer.connection.execute(select(Volunteer.phone))}
    communes = sorted(places)
    by_province: dict[int, list[tuple[int, str, str]]] = {}
    rows, skill_rows, slot_rows = [], [], []
    slots = [s.value for s in AvailabilitySlot]
    # Every province first gets six, so each can make teams; the rest fall where communes are.
    provinces = sorted({p.province_id for p in places.values()})
    first = {pid: [c for c in communes if places[c].province_id == pid] for pid in provinces}
    homes = [first[pid][i % len(first[pid])] for pid in provinces for i in range(6)]
    homes += [rng.choice(communes) for _ in range(counts.volunteers - len(homes))]
    for commune_id in homes[: counts.volunteers]:
        place = places[commune_id]
        phone = _phone(rng)
        while phone in taken:
            phone = _phone(rng)
        taken.add(phone)
        kind = rng.choices(["student", "ambassador", "community"], weights=[6, 2, 2])[0]
        age = rng.randint(19, 23) if kind == "student" else rng.randint(24, 55)
        born = date(today.year - age - 1, rng.randint(1, 12), rng.randint(1, 28))
        name = f"{rng.choice(FAMILY)} {rng.choice(YOUNG if age < 30 else ELDER_MEN + ELDER_WOMEN)}"
        unit = "Đoàn thanh niên xã" if kind != "student" else "Đội sinh viên tình nguyện số"
        hamlet_id, hlat, hlng = rng.choice(place.hamlets)
        lat, lng = _jitter(rng, hlat, hlng, 0.5)
        mode = rng.choices(["motorbike", "bicycle", "walk"], weights=[6, 3, 1])[0]
        active = rng.random() < 0.95
        joined = now - timedelta(days=rng.randint(30, 500))
        rows.append(
            (
                next_id,
                name,
                phone,
                joined,
                kind,
                unit,
                _search(name, unit),
                born,
                joined,
                CONSENT_VERSION,
                commune_id,
                hamlet_id,
                lat,
                lng,
                mode,
                ["vi"],
                rng.choice([3, 4, 4, 5, 6]),
                "active" if active else "pending",
                "national-demo",
                joined,
                joined,
                joined if active else None,
            )
        )
        for skill in rng.sample(skills, k=min(len(skills), rng.randint(2, 4))):
            skill_rows.append((next_id, skill, rng.randint(1, 3)))
        for slot in rng.sample(slots, k=rng.randint(2, 3)):
            slot_rows.append((next_id, slot))
        if active:
            by_province.setdefault(place.province_id, []).append((next_id, mode, phone))
        next_id += 1
    writer.write(
        table,
        (
            "id",
            "full_name",
            "phone",
            "phone_verified_at",
            "kind",
            "school_or_unit",
            "search_text",
            "date_of_birth",
            "consent_at",
            "consent_version",
            "home_commune_id",
            "home_hamlet_id",
            "home_lat",
            "home_lng",
            "travel_mode",
            "languages",
            "max_visits_per_day",
            "status",
            "source",
            "created_at",
            "updated_at",
            "approved_at",
        ),
        rows,
    )
    writer.write(VolunteerSkill.__table__, ("volunteer_id", "skill_id", "level"), skill_rows)
    writer.write(VolunteerAvailability.__table__, ("volunteer_id", "slot"), slot_rows)
    return by_province


REQUEST_COLUMNS = (
    "id",
    "reference",
    "status",
    "source",
    "priority",
    "beneficiary_name",
    "age_group",
    "situations",
    "people_count",
    "languages",
    "contact_is_beneficiary",
    "phone",
    "phone_is_mobile",
    "commune_id",
    "hamlet_id",
    "house",
    "search_text",
    "landmark",
    "lat",
    "lng",
    "location_source",
    "consent_at",
    "consent_version",
    "not_duplicate",
    "created_at",
    "updated_at",
    "status_changed_at",
)
AGE_GROUPS = list(AgeGroup)
SERVICE_CODES = list(SERVICE_WEIGHTS)
SERVICE_WEIGHT_LIST = [SERVICE_WEIGHTS[c] for c in SERVICE_CODES]


def _request_row(
    rng: random.Random,
    request_id: int,
    reference: str,
    place: _Place,
    status: str,
    created: datetime,
    changed: datetime,
) -> tuple[tuple[Any, ...], int]:
    """One household's request (and how many people it is for)."""
    age_group = rng.choices(AGE_GROUPS, weights=[1, 3, 6, 7])[0]
    female = rng.random() < 0.62
    given = rng.choice(ELDER_WOMEN if female else ELDER_MEN)
    if age_group in (AgeGroup.UNDER_18, AgeGroup.ADULT):
        given = rng.choice(YOUNG)
    name = f"{rng.choice(FAMILY)} {given}"
    situations = []
    if age_group is AgeGroup.ELDERLY and rng.random() < 0.45:
        situations.append("elderly_alone")
    if rng.random() < 0.14:
        situations.append("disability")
    if not place.urban and rng.random() < 0.4:
        situations.append("remote")
    has_phone = rng.random() < 0.88
    hamlet_id, hlat, hlng = rng.choice(place.hamlets)
    lat, lng = _jitter(rng, hlat, hlng, 0.4)
    house = f"{rng.randint(1, 250)} đường số {rng.randint(1, 40)}"
    people = rng.choice([1, 1, 1, 2, 2, 3])
    return (
        request_id,
        reference,
        status,
        rng.choices(["web", "phone", "in_person", "api"], weights=[6, 3, 2, 1])[0],
        suggest_priority(age_group, situations),
        name,
        age_group.value,
        situations,
        people,
        [],
        True,
        _phone(rng) if has_phone else None,
        has_phone,
        place.commune_id,
        hamlet_id,
        house,
        _search(reference, name, None, house),
        rng.choice(LANDMARKS) if rng.random() < 0.5 else None,
        lat,
        lng,
        "pin",
        created,
        CONSENT_VERSION,
        False,
        created,
        changed,
        changed,
    ), people


def _services_for(rng: random.Random, services: dict[str, int]) -> list[int]:
    codes = set(rng.choices(SERVICE_CODES, weights=SERVICE_WEIGHT_LIST, k=rng.choice([1, 1, 2])))
    return [services[c] for c in sorted(codes) if c in services]


def _open_requests(
    writer: BulkWriter,
    places: dict[int, _Place],
    services: dict[str, int],
    refs: _References,
    counts: NationalCounts,
    now: datetime,
) -> int:
    table = HelpRequest.__table__
    rng = random.Random(f"{SEED}:nopen")
    communes = sorted(places)
    next_id = writer.next_id(table)
    service_rows: list[tuple[int, int]] = []

    def rows() -> Iterable[tuple[Any, ...]]:
        nonlocal next_id
        for _ in range(counts.open_requests):
            created = now - timedelta(days=rng.randint(0, 60), minutes=rng.randint(0, 1400))
            status = "new" if rng.random() < 0.45 else "triaged"
            row, _people = _request_row(
                rng, next_id, refs.next(), places[rng.choice(communes)], status, created, created
            )
            for sid in _services_for(rng, services):
                service_rows.append((next_id, sid))
            next_id += 1
            yield row

    written = writer.write(table, REQUEST_COLUMNS, rows())
    writer.write(RequestService.__table__, ("request_id", "service_id"), service_rows)
    return written


OUTCOMES = ("done", "partly_done", "referred", "not_possible")
OUTCOME_WEIGHTS = (74, 9, 6, 5)


def _past_drives(
    writer: BulkWriter,
    provinces: list[Province],
    places: dict[int, _Place],
    by_province: dict[int, list[tuple[int, str, str]]],
    services: dict[str, int],
    refs: _References,
    counts: NationalCounts,
    today: date,
) -> tuple[int, int]:
    """One completed drive per province and week: planned, published, visited, reported."""
    ids = {
        t.name: writer.next_id(t)
        for t in (
            Drive.__table__,
            TimeBlock.__table__,
            MeetingPoint.__table__,
            Plan.__table__,
            Team.__table__,
            DriveVolunteer.__table__,
            DriveRequest.__table__,
            HelpRequest.__table__,
            Visit.__table__,
            VisitOutcome.__table__,
            Message.__table__,
        )
    }

    def take(name: str) -> int:
        value = ids[name]
        ids[name] += 1
        return value

    drives_total = counts.weeks * len(provinces)
    per_drive = [counts.visits // drives_total] * drives_total
    for i in range(counts.visits - sum(per_drive)):
        per_drive[i] += 1
    communes_of = {p.id: [c.id for c in p.communes] for p in provinces}
    last_saturday = next_saturday(today) - timedelta(weeks=1)
    drive_number = 0
    visits_written = 0
    # A week at a time, every province: each batch's rows are written before the next's.
    for week in range(counts.weeks, 0, -1):
        saturday = last_saturday - timedelta(weeks=week - 1)
        blocks = (
            (_at(saturday, 7, 30), _at(saturday, 11, 0)),
            (_at(saturday, 14, 0), _at(saturday, 17, 0)),
        )
        rng = random.Random(f"{SEED}:nweek:{week}")
        t: dict[str, list[tuple[Any, ...]]] = {
            name: []
            for name in (
                "drive",
                "drive_commune",
                "time_block",
                "meeting_point",
                "plan",
                "team",
                "team_member",
                "drive_volunteer",
                "help_request",
                "request_service",
                "drive_request",
                "visit",
                "visit_outcome",
                "message",
            )
        }
        for province in provinces:
            wanted = per_drive[drive_number]
            drive_number += 1
            people = by_province.get(province.id, [])
            if len(people) < 2 or wanted == 0:
                continue
            drive_id = take("drive")
            published = _at(saturday - timedelta(days=2), 20, 5)
            created = _at(saturday - timedelta(days=9), 9, 0)
            name = f"Cuối tuần số {saturday.strftime('%d/%m/%Y')} - {province.short_name}"
            t["drive"].append(
                (drive_id, name, "completed", 2, True, None, created, published, published, 1)
            )
            own = communes_of[province.id]
            chosen = sorted(set(rng.sample(own, k=min(len(own), 6))))
            for cid in chosen:
                t["drive_commune"].append((drive_id, cid))
            for start, end in blocks:
                t["time_block"].append((take("time_block"), drive_id, start, end))
            home = places[chosen[0]]
            point = take("meeting_point")
            t["meeting_point"].append(
                (point, drive_id, home.commune_id, "Nhà văn hóa xã", home.lat, home.lng)
            )
            plan_id = take("plan")
            team_count = max(1, math.ceil(wanted / TEAM_VISITS))
            routes: list[dict[str, Any]] = []
            accepted: set[int] = set()
            teams: list[tuple[int, str]] = []
            pairs: dict[int, list[tuple[int, str]]] = {}
            for n in range(team_count):
                team_id = take("team")
                pair = rng.sample(people, k=2)
                code = f"T{n + 1}"
                t["team"].append((team_id, drive_id, code, pair[0][1], point, False, 6, True))
                pairs[team_id] = [(vid, phone) for vid, _mode, phone in pair]
                for vid, _mode, _phone in pair:
                    t["team_member"].append((team_id, vid))
                    accepted.add(vid)
                teams.append((team_id, code))
            for vid in sorted(accepted):
                t["drive_volunteer"].append(
                    (take("drive_volunteer"), drive_id, vid, "accepted", created, created)
                )
            stops: dict[tuple[str, int], list[int]] = {}
            served = 0
            for k in range(wanted):
                team_id, code = teams[k // TEAM_VISITS % len(teams)]
                slot = k % TEAM_VISITS
                shift, seq = divmod(slot, TEAM_VISITS // 2)
                starts = blocks[shift][0] + timedelta(minutes=15 + 65 * seq)
                ends = starts + timedelta(minutes=rng.choice([30, 40, 45, 50]))
                away = rng.random() < 0.06
                request_id = take("help_request")
                asked = starts - timedelta(days=rng.randint(4, 25), minutes=rng.randint(0, 900))
                row, people_count = _request_row(
                    rng,
                    request_id,
                    refs.next(),
                    places[rng.choice(chosen)],
                    "not_home" if away else "done",
                    asked,
                    ends,
                )
                t["help_request"].append(row)
                wanted_services = _services_for(rng, services)
                for sid in wanted_services:
                    t["request_service"].append((request_id, sid))
                t["drive_request"].append((take("drive_request"), drive_id, request_id, created))
                visit_id = take("visit")
                helped = 0 if away else min(people_count, rng.choice([1, 1, 2, 2, 3]))
                t["visit"].append(
                    (
                        visit_id,
                        plan_id,
                        request_id,
                        team_id,
                        shift,
                        seq,
                        starts,
                        starts,
                        ends,
                        False,
                        "not_home" if away else "done",
                        published,
                        published,
                        starts,
                        helped,
                        5 if away else int((ends - starts).total_seconds() // 60),
                        ends,
                    )
                )
                served += 0 if away else 1
                stops.setdefault((code, shift), []).append(request_id)
                for sid in wanted_services:
                    outcome = (
                        "not_home" if away else rng.choices(OUTCOMES, weights=OUTCOME_WEIGHTS)[0]
                    )
                    t["visit_outcome"].append((take("visit_outcome"), visit_id, sid, outcome, ends))
                # The volunteer's assignment and the household's confirmation, as delivered.
                # A household without a phone hears from the team in person: the second
                # message then goes to the other member.
                first, second = pairs[team_id]
                household = row[11]
                messages = [("assignment", first[1], first[0])] + (
                    [("household_confirmation", household, None)]
                    if household
                    else [("assignment", second[1], second[0])]
                )
                for kind, phone, who in messages:
                    message_id = take("message")
                    failed = rng.random() < 0.04
                    t["message"].append(
                        (
                            message_id,
                            f"national:visit:{visit_id}:{kind}:{who or 'household'}",
                            kind,
                            phone,
                            "Tin nhắn minh họa (dữ liệu mẫu).",
                            "vi",
                            "GSM-7",
                            1,
                            "failed" if failed else "delivered",
                            False,
                            published,
                            1,
                            "twilio",
                            f"SMnat{message_id:012d}",
                            "30006" if failed else None,
                            None if failed else -0.0478,
                            "USD",
                            published,
                            published,
                            None if failed else published,
                            published,
                            drive_id,
                            visit_id,
                            who,
                            None if who else request_id,
                        )
                    )
            for (code, shift), stop_ids in stops.items():
                routes.append(
                    {
                        "team": code,
                        "shift": shift,
                        "travel_min": round(4.0 * len(stop_ids) + rng.uniform(0, 10), 1),
                        "stops": stop_ids,
                    }
                )
            t["plan"].append(
                (
                    plan_id,
                    drive_id,
                    1,
                    "done",
                    {},
                    {"version": 1, "routes": routes},
                    {"served": served, "elapsed_s": 3.0},
                    False,
                    created,
                    published,
                    published,
                    published,
                    1,
                )
            )
            visits_written += wanted
        _write_week(writer, t)
    return drive_number, visits_written


def _write_week(writer: BulkWriter, t: dict[str, list[tuple[Any, ...]]]) -> None:
    """Write a week's rows, parents before children."""
    w = writer.write
    w(
        Drive.__table__,
        (
            "id",
            "name",
            "status",
            "team_size",
            "unaccented_sms",
            "notes",
            "created_at",
            "updated_at",
            "published_at",
            "row_version",
        ),
        t["drive"],
    )
    w(drive_commune, ("drive_id", "commune_id"), t["drive_commune"])
    w(TimeBlock.__table__, ("id", "drive_id", "starts_at", "ends_at"), t["time_block"])
    w(
        MeetingPoint.__table__,
        ("id", "drive_id", "commune_id", "name", "lat", "lng"),
        t["meeting_point"],
    )
    w(
        Plan.__table__,
        (
            "id",
            "drive_id",
            "version",
            "status",
            "params",
            "result",
            "progress",
            "stop_requested",
            "created_at",
            "started_at",
            "finished_at",
            "published_at",
            "row_version",
        ),
        t["plan"],
    )
    w(
        Team.__table__,
        (
            "id",
            "drive_id",
            "code",
            "mode",
            "meeting_point_id",
            "returns_to_start",
            "max_visits",
            "active",
        ),
        t["team"],
    )
    w(team_member, ("team_id", "volunteer_id"), t["team_member"])
    w(
        DriveVolunteer.__table__,
        ("id", "drive_id", "volunteer_id", "status", "invited_at", "responded_at"),
        t["drive_volunteer"],
    )
    w(HelpRequest.__table__, REQUEST_COLUMNS, t["help_request"])
    w(RequestService.__table__, ("request_id", "service_id"), t["request_service"])
    w(DriveRequest.__table__, ("id", "drive_id", "request_id", "included_at"), t["drive_request"])
    w(
        Visit.__table__,
        (
            "id",
            "plan_id",
            "request_id",
            "team_id",
            "shift_index",
            "seq",
            "arrival_at",
            "starts_at",
            "ends_at",
            "pinned",
            "status",
            "volunteer_accepted_at",
            "household_confirmed_at",
            "checked_in_at",
            "people_helped",
            "minutes_spent",
            "reported_at",
        ),
        t["visit"],
    )
    w(
        VisitOutcome.__table__,
        ("id", "visit_id", "service_id", "outcome", "recorded_at"),
        t["visit_outcome"],
    )
    w(
        Message.__table__,
        (
            "id",
            "idempotency_key",
            "kind",
            "to_phone",
            "body",
            "locale",
            "encoding",
            "segments",
            "status",
            "urgent",
            "send_after",
            "attempts",
            "provider",
            "provider_sid",
            "error_code",
            "price",
            "price_unit",
            "created_at",
            "sent_at",
            "delivered_at",
            "status_updated_at",
            "drive_id",
            "visit_id",
            "volunteer_id",
            "request_id",
        ),
        t["message"],
    )


__all__ = [
    "SCALES",
    "BulkWriter",
    "NationalCounts",
    "is_demo_email",
    "province_coordinator_email",
    "seed_national",
]
