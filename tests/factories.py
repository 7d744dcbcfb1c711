"""Small factories for model rows, with sensible defaults a test can override."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from volunteer_hub.models import (
    Commune,
    Drive,
    DriveRequest,
    Hamlet,
    HamletKind,
    HelpRequest,
    Plan,
    PlanStatus,
    Province,
    RequestSource,
    Role,
    Service,
    Team,
    TimeBlock,
    TravelMode,
    User,
    Visit,
    VisitStatus,
    Volunteer,
    VolunteerKind,
    VolunteerStatus,
)
from volunteer_hub.services.reference.catalogue import load_default_catalogue

PASSWORD = "correct horse battery"
_counter = itertools.count(1)


@lru_cache(maxsize=1)
def password_hash() -> str:
    # A cheap hash keeps sign-in tests fast; production uses werkzeug's default (scrypt).
    return generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")


def now() -> datetime:
    return datetime.now(UTC)


def province(session: Session, **kw: Any) -> Province:
    n = next(_counter)
    obj = Province(
        code=kw.pop("code", f"P{n}"),
        name=kw.pop("name", f"Tỉnh {n}"),
        short_name=kw.pop("short_name", f"Tỉnh {n}"),
        lat=16.4,
        lng=107.6,
        **kw,
    )
    session.add(obj)
    session.flush()
    return obj


def commune(session: Session, prov: Province | None = None, **kw: Any) -> Commune:
    n = next(_counter)
    obj = Commune(
        code=kw.pop("code", f"{90000 + n}"),
        province=prov or province(session),
        name=kw.pop("name", f"Phường Thử {n}"),
        short_name=kw.pop("short_name", f"Thử {n}"),
        kind=kw.pop("kind", "Phường"),
        lat=kw.pop("lat", 16.46),
        lng=kw.pop("lng", 107.59),
        **kw,
    )
    session.add(obj)
    session.flush()
    return obj


def hamlet(session: Session, com: Commune, name: str = "Tổ dân phố 1") -> Hamlet:
    obj = Hamlet(
        commune=com, name=name, kind=HamletKind.RESIDENTIAL_GROUP, lat=com.lat, lng=com.lng
    )
    session.add(obj)
    session.flush()
    return obj


def user(
    session: Session,
    role: Role = Role.COORDINATOR,
    communes: list[Commune] | None = None,
    **kw: Any,
) -> User:
    n = next(_counter)
    obj = User(
        email=kw.pop("email", f"user{n}@example.vn"),
        name=kw.pop("name", f"Người dùng {n}"),
        role=role,
        password_hash=kw.pop("password_hash", password_hash()),
        communes=communes or [],
        **kw,
    )
    session.add(obj)
    session.flush()
    return obj


def catalogue(session: Session) -> dict[str, Service]:
    load_default_catalogue(session)
    return {s.code: s for s in session.query(Service)}


def volunteer(session: Session, com: Commune, **kw: Any) -> Volunteer:
    n = next(_counter)
    obj = Volunteer(
        full_name=kw.pop("full_name", f"Nguyễn Văn {n}"),
        phone=kw.pop("phone", f"+8490{n:07d}"),
        kind=kw.pop("kind", VolunteerKind.STUDENT),
        date_of_birth=kw.pop("date_of_birth", date(2003, 5, 1)),
        consent_at=now(),
        consent_version="test",
        home_commune=com,
        home_lat=com.lat,
        home_lng=com.lng,
        travel_mode=kw.pop("travel_mode", TravelMode.MOTORBIKE),
        status=kw.pop("status", VolunteerStatus.ACTIVE),
        **kw,
    )
    session.add(obj)
    session.flush()
    return obj


def help_request(session: Session, com: Commune, **kw: Any) -> HelpRequest:
    n = next(_counter)
    services = kw.pop("services", [])
    obj = HelpRequest(
        reference=kw.pop("reference", f"T{n:05d}"[-6:].replace("0", "Z").replace("1", "Y")),
        source=kw.pop("source", RequestSource.WEB),
        beneficiary_name=kw.pop("beneficiary_name", f"Trần Thị {n}"),
        commune=com,
        phone=kw.pop("phone", f"+8491{n:07d}"),
        phone_is_mobile=kw.pop("phone_is_mobile", True),
        consent_at=now(),
        consent_version="test",
        lat=kw.pop("lat", com.lat),
        lng=kw.pop("lng", com.lng),
        **kw,
    )
    obj.services = services
    session.add(obj)
    session.flush()
    return obj


def drive(session: Session, communes: list[Commune], **kw: Any) -> Drive:
    n = next(_counter)
    day = kw.pop("day", (now() + timedelta(days=6)).date())
    obj = Drive(
        name=kw.pop("name", f"Đợt {n}"), communes=communes, team_size=kw.pop("team_size", 2), **kw
    )
    start = datetime(day.year, day.month, day.day, 0, 30, tzinfo=UTC)  # 07:30 in Vietnam
    obj.blocks = [TimeBlock(starts_at=start, ends_at=start + timedelta(hours=3, minutes=30))]
    session.add(obj)
    session.flush()
    return obj


@dataclass
class CommuneWorld:
    """Everything a coordinator of one commune may see."""

    commune: Commune
    hamlet: Hamlet
    coordinator: User
    volunteer: Volunteer
    request: HelpRequest
    drive: Drive
    team: Team
    plan: Plan
    visit: Visit


def commune_world(session: Session, prov: Province, name: str) -> CommuneWorld:
    """Create a commune with a coordinator and one record of every kind."""
    com = commune(session, prov, name=name)
    ham = hamlet(session, com)
    coord = user(session, Role.COORDINATOR, [com], email=f"coord-{com.code}@example.vn")
    vol = volunteer(session, com)
    req = help_request(session, com, hamlet=ham)
    drv = drive(session, [com])
    drv.requests.append(DriveRequest(request=req))
    team = Team(drive=drv, code="T1", mode=TravelMode.MOTORBIKE, members=[vol])
    plan = Plan(drive=drv, version=1, status=PlanStatus.DONE, published_at=now())
    start = drv.blocks[0].starts_at
    visit = Visit(
        plan=plan,
        request=req,
        team=team,
        status=VisitStatus.SCHEDULED,
        seq=1,
        shift_index=0,
        arrival_at=start,
        starts_at=start,
        ends_at=start + timedelta(minutes=30),
    )
    session.add_all([team, plan, visit])
    session.flush()
    return CommuneWorld(com, ham, coord, vol, req, drv, team, plan, visit)


@dataclass
class DriveWorld:
    """A small drive ready to plan: a Saturday morning, two pairs, eight households."""

    commune: Commune
    coordinator: User
    drive: Drive
    volunteers: list[Volunteer]
    requests: list[HelpRequest]


def next_saturday(today: date | None = None) -> date:
    today = today or datetime.now(UTC).date()
    return today + timedelta(days=(5 - today.weekday()) % 7 or 7)


def drive_world(session: Session, *, households: int = 8, day: date | None = None) -> DriveWorld:
    """A drive on a Saturday 07:30-11:00 (Vietnam) in a commune of Huế, with accepted pairs."""
    from volunteer_hub.models import (
        AvailabilitySlot,
        DriveVolunteer,
        InvitationStatus,
        MeetingPoint,
        Skill,
        VolunteerAvailability,
        VolunteerSkill,
    )
    from volunteer_hub.services.drives.teams import form_teams

    services = catalogue(session)
    skills = {s.code: s for s in session.query(Skill)}
    com = commune(session, name="Phường Thuận Hóa", lat=16.4556, lng=107.584)
    coord = user(session, Role.COORDINATOR, [com], email=f"dieuphoi-{com.code}@example.vn")
    day = day or next_saturday()
    start = datetime(day.year, day.month, day.day, 0, 30, tzinfo=UTC)  # 07:30 in Vietnam
    drv = Drive(name="Chủ nhật số thử", communes=[com], team_size=2, created_by_id=coord.id)
    drv.blocks = [TimeBlock(starts_at=start, ends_at=start + timedelta(hours=3, minutes=30))]
    drv.meeting_points = [
        MeetingPoint(name="Nhà văn hóa", lat=16.4570, lng=107.5830, commune_id=com.id)
    ]
    session.add(drv)
    vols = []
    # Only the first volunteer can do VNeID ("learning" does not count), only the second
    # e-payment: whatever the pairing, one team lacks each of them.
    plan = [("vneid", 3), ("epayment", 2), ("public_services", 3), ("vneid", 1)]
    for index, (skill, level) in enumerate(plan):
        v = volunteer(
            session, com, full_name=f"Tình nguyện viên {index + 1}", phone_verified_at=now()
        )
        v.home_lat, v.home_lng = 16.456 + index * 0.002, 107.585
        v.skills = [
            VolunteerSkill(skill=skills[skill], level=level),
            VolunteerSkill(skill=skills["online_safety"], level=2),
        ]
        v.availability = [VolunteerAvailability(slot=AvailabilitySlot.SAT_MORNING)]
        drv.volunteers.append(DriveVolunteer(volunteer=v, status=InvitationStatus.ACCEPTED))
        vols.append(v)
    reqs = []
    codes = ["vneid_activate", "bank_app", "social_benefits", "scam_safety"]
    for index in range(households):
        r = help_request(
            session,
            com,
            services=[services[codes[index % len(codes)]]],
            priority=1 + index % 5,
            lat=16.4500 + (index % 4) * 0.003,
            lng=107.580 + (index // 4) * 0.004,
            beneficiary_name=f"Hộ dân {index + 1}",
        )
        drv.requests.append(DriveRequest(request=r))
        reqs.append(r)
    session.flush()
    form_teams(session, drv, user=coord, tz=ZoneInfo("Asia/Ho_Chi_Minh"))
    session.commit()
    return DriveWorld(com, coord, drv, vols, reqs)


def problem_fields(response: Any) -> list[str]:
    """Return the fields an API problem (RFC 9457, 422) names, checking its shape on the way."""
    assert response.mimetype == "application/problem+json", response.mimetype
    body = response.get_json()
    assert body["status"] == response.status_code
    assert {"type", "title", "status", "instance"} <= set(body)
    fields: list[str] = []
    for item in body["errors"]:
        assert set(item) == {"field", "message"} and item["message"]
        if item["field"] not in fields:
            fields.append(item["field"])
    return fields
