"""A realistic demo of Huế: communes, volunteers, household requests and a weekend drive.

Everything is keyed by a natural key (email, phone, reference code), so running the seed again,
that day or weeks later, adds nothing twice. Drives are keyed by what they hold, not by their
dates (which follow the day the seed runs): a past drive by its requests' reference codes, the
upcoming drive by being the demo's one open drive.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from volunteer_hub.models import (
    AgeGroup,
    AvailabilitySlot,
    Commune,
    Drive,
    DriveRequest,
    DriveStatus,
    DriveVolunteer,
    Hamlet,
    HamletKind,
    HelpRequest,
    InvitationStatus,
    LocationSource,
    MeetingPoint,
    Outcome,
    RequestSource,
    RequestStatus,
    RequestWindow,
    Role,
    Service,
    Situation,
    Skill,
    TimeBlock,
    TravelMode,
    User,
    Volunteer,
    VolunteerAbsence,
    VolunteerAvailability,
    VolunteerKind,
    VolunteerSkill,
    VolunteerStatus,
)
from volunteer_hub.services.intake.help_requests import (
    CONSENT_VERSION,
    REFERENCE_ALPHABET,
    REFERENCE_LENGTH,
    suggest_priority,
)
from volunteer_hub.services.reference.accounts import create_user, find_user, one_time_password
from volunteer_hub.services.reference.catalogue import load_default_catalogue
from volunteer_hub.services.reference.places import load_places

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
SEED = 2025

ADMIN_EMAIL = "admin@demo.vn"
COORDINATOR_EMAIL = "dieuphoi@demo.vn"
DEMO_COORDINATOR_PHONE = "+84905123000"
PARTNER_EMAIL = "hue-s@demo.vn"


@dataclass(frozen=True)
class DemoCommune:
    """A commune of the demo, with streets that really run through it."""

    code: str
    streets: tuple[str, ...]
    urban: bool = True


# Official codes from vietnamadminunits; street names are Huế's own.
DEMO_COMMUNES = (
    DemoCommune(
        "19789", ("Lê Lợi", "Hùng Vương", "Bà Triệu", "Nguyễn Huệ", "Trần Cao Vân", "Đội Cung")
    ),
    DemoCommune(
        "19753",
        ("Đinh Tiên Hoàng", "Trần Hưng Đạo", "Chi Lăng", "Huỳnh Thúc Kháng", "Mai Thúc Loan"),
    ),
    DemoCommune("19777", ("Nguyễn Sinh Cung", "Phạm Văn Đồng", "Nguyễn Lộ Trạch", "Ưng Bình")),
    DemoCommune("19815", ("An Dương Vương", "Hoàng Quốc Việt", "Phan Chu Trinh", "Ngự Bình")),
    DemoCommune("19774", ("Kim Long", "Nguyễn Phúc Nguyên", "Lý Nam Đế")),
    DemoCommune("19942", ("Tỉnh lộ 10", "Đường liên thôn"), urban=False),
)
# The upcoming drive covers the four central wards.
DRIVE_COMMUNES = ("19789", "19753", "19777", "19815")

FAMILY = (
    "Nguyễn",
    "Trần",
    "Lê",
    "Phạm",
    "Hoàng",
    "Phan",
    "Võ",
    "Đặng",
    "Bùi",
    "Đỗ",
    "Hồ",
    "Ngô",
    "Dương",
    "Tôn Nữ",
    "Huỳnh",
    "Trương",
    "Mai",
    "Hà",
)
ELDER_WOMEN = (
    "Thị Hoa",
    "Thị Lan",
    "Thị Cúc",
    "Thị Mai",
    "Thị Hương",
    "Thị Thu",
    "Thị Sen",
    "Thị Tâm",
    "Thị Huệ",
    "Thị Lài",
    "Thị Nga",
    "Thị Phượng",
    "Thị Bích",
    "Thị Xuân",
)
ELDER_MEN = (
    "Văn Hùng",
    "Văn Dũng",
    "Văn Sơn",
    "Văn Tư",
    "Văn Bảy",
    "Đức Thành",
    "Văn Quý",
    "Hữu Phúc",
    "Văn Lộc",
    "Văn Tấn",
    "Quang Khánh",
    "Văn Đức",
    "Hữu Nghĩa",
)
YOUNG = (
    "Minh Anh",
    "Bảo Ngọc",
    "Gia Huy",
    "Quốc Bảo",
    "Thảo Vy",
    "Khánh Linh",
    "Đức Anh",
    "Hải Đăng",
    "Phương Thảo",
    "Tuấn Kiệt",
    "Ngọc Hân",
    "Minh Khôi",
    "Thu Trang",
    "Hoàng Nam",
    "Thanh Tâm",
    "Quỳnh Như",
    "Anh Thư",
    "Nhật Minh",
    "Bảo Trâm",
    "Văn Khoa",
)
RELATIONS = ("con gái", "con trai", "cháu", "hàng xóm", "tổ trưởng tổ dân phố", "con dâu")
LANDMARKS = (
    "gần chợ Đông Ba",
    "cạnh nhà văn hóa tổ dân phố",
    "đối diện trường tiểu học",
    "sau chùa",
    "gần đình làng",
    "cạnh tiệm tạp hóa",
    "đầu kiệt có cây đa",
    "nhà có cổng sắt màu xanh",
    "gần trạm y tế phường",
    "cạnh quán cơm hến",
)
NOTES = (
    "Nhà có chó, gọi trước khi vào.",
    "Bà nghe kém, nói to và chậm.",
    "Nhà có cầu thang cao.",
    "Ông dùng điện thoại bàn phím, chưa có điện thoại thông minh.",
    "Chỉ ở nhà buổi sáng.",
    "Cháu đi làm, bà ở nhà một mình.",
    None,
    None,
    None,
    None,
)
SCHOOLS_ADULT = (
    "Trường Đại học Khoa học, Đại học Huế",
    "Trường Đại học Sư phạm, Đại học Huế",
    "Trường Đại học Kinh tế, Đại học Huế",
    "Trường Đại học Y - Dược, Đại học Huế",
    "Trường Đại học Nông Lâm, Đại học Huế",
)
SCHOOLS_MINOR = ("Trường THPT chuyên Quốc Học", "Trường THPT Hai Bà Trưng")
# Mobile prefixes in use in Vietnam (Viettel, VinaPhone, MobiFone, Vietnamobile).
MOBILE_PREFIXES = (
    "090",
    "091",
    "093",
    "094",
    "096",
    "097",
    "098",
    "086",
    "088",
    "070",
    "076",
    "077",
    "078",
    "079",
    "081",
    "083",
    "084",
    "085",
    "032",
    "033",
    "034",
    "035",
    "036",
    "037",
    "038",
    "039",
    "056",
    "058",
)
SERVICE_WEIGHTS = {
    "vneid_install": 10,
    "vneid_activate": 14,
    "temp_residence": 3,
    "birth_registration": 2,
    "social_benefits": 6,
    "judicial_record": 2,
    "driving_licence": 2,
    "bank_app": 6,
    "qr_payment": 5,
    "hue_s": 6,
    "health_book": 5,
    "scam_safety": 7,
    "smartphone_basics": 6,
}


@dataclass
class DemoReport:
    """What the seed added."""

    volunteers: int = 0
    requests: int = 0
    drives: int = 0
    accounts: int = 0
    #: The password given to the demo accounts this time, or None when they kept theirs.
    password: str | None = None


class DemoError(RuntimeError):
    """The demo cannot be seeded here; the message says why."""


DEMO_EMAILS = frozenset({ADMIN_EMAIL, COORDINATOR_EMAIL, PARTNER_EMAIL})
# The national demo's coordinator of each province (volunteer_hub/demo/national.py).
_PROVINCE_COORDINATOR = re.compile(r"^dieuphoi\.p\d{1,8}@demo\.vn$")


def province_coordinator_email(province_code: str) -> str:
    """The national demo's account for the coordinator of a province."""
    return f"dieuphoi.p{province_code}@demo.vn"


def is_demo_email(email: str) -> bool:
    """Return True for the demo's own accounts, the province coordinators' included."""
    return email in DEMO_EMAILS or bool(_PROVINCE_COORDINATOR.match(email))


def _refuse_real_accounts(session: Session) -> None:
    """Never seed a real database: its accounts would sit beside ones with a known password."""
    emails = session.scalars(select(User.email).where(User.email.not_in(DEMO_EMAILS))).all()
    others = [e for e in emails if not is_demo_email(e)]
    if others:
        raise DemoError(
            f"this database holds {len(others)} account(s) that are not the demo's "
            f"(for example {sorted(others)[0]}): the demo is seeded only into its own database"
        )


def _phone(rng: random.Random) -> str:
    prefix = rng.choice(MOBILE_PREFIXES)
    return "+84" + prefix[1:] + "".join(str(rng.randrange(10)) for _ in range(7))


def _near(rng: random.Random, lat: float, lng: float, km: float) -> tuple[float, float]:
    # About 111 km per degree of latitude; at Huế's latitude a degree of longitude is ~107 km.
    return (
        round(lat + rng.uniform(-km, km) / 111.0, 6),
        round(lng + rng.uniform(-km, km) / 107.0, 6),
    )


def _at(day: date, hh: int, mm: int) -> datetime:
    return datetime.combine(day, time(hh, mm), TZ).astimezone(UTC)


def next_saturday(today: date) -> date:
    """Return the first Saturday strictly after today."""
    return today + timedelta(days=(5 - today.weekday()) % 7 or 7)


def _hamlets(session: Session, commune: Commune, spec: DemoCommune) -> list[Hamlet]:
    existing = {h.name: h for h in commune.hamlets}
    names = (
        [f"Tổ dân phố {n}" for n in range(1, 13)]
        if spec.urban
        else [f"Thôn {n}" for n in ("Mỹ Lợi", "Phú Lương", "Thanh Lam", "Kế Võ", "Hà Trữ")]
    )
    kind = HamletKind.RESIDENTIAL_GROUP if spec.urban else HamletKind.HAMLET
    for name in names:
        if name not in existing:
            rng = random.Random(f"{SEED}:hamlet:{commune.code}:{name}")
            lat, lng = _near(rng, commune.lat or 16.46, commune.lng or 107.59, 1.2)
            hamlet = Hamlet(commune=commune, name=name, kind=kind, lat=lat, lng=lng)
            session.add(hamlet)
            existing[name] = hamlet
    session.flush()
    return [existing[n] for n in names]


def _accounts(
    session: Session, password: str | None, communes: list[Commune]
) -> tuple[int, str | None]:
    """Create the demo accounts; return how many and the password they were given.

    New accounts get ``password``, or a random one when it is None; existing ones keep theirs
    unless a password is given.
    """
    added = 0
    specs = (
        (ADMIN_EMAIL, "Quản trị Thành đoàn Huế", Role.ADMIN, []),
        (
            COORDINATOR_EMAIL,
            "Bí thư Đoàn phường Thuận Hóa",
            Role.COORDINATOR,
            [c.code for c in communes],
        ),
        (PARTNER_EMAIL, "Ứng dụng Hue-S (đối tác)", Role.PARTNER, []),
    )
    missing = [spec for spec in specs if find_user(session, spec[0]) is None]
    chosen = password if password else (one_time_password() if missing else None)
    for email, name, role, codes in specs:
        user = find_user(session, email)
        if user is None:
            create_user(
                session,
                email=email,
                name=name,
                role=role,
                password=None if role is Role.PARTNER else chosen,
                commune_codes=codes,
                allow_weak_password=True,
                # The coordinator's mobile goes into the SMS to minors' guardians.
                phone=DEMO_COORDINATOR_PHONE if role is Role.COORDINATOR else None,
            )
            added += 1
        elif password and role is not Role.PARTNER:
            # The demo's own accounts only (checked above); a short password is allowed here.
            user.password_hash = generate_password_hash(password)
            user.session_version += 1
    return added, chosen


def _volunteers(
    session: Session,
    communes: dict[str, Commune],
    hamlets: dict[str, list[Hamlet]],
    skills: dict[str, Skill],
    today: date,
    now: datetime,
) -> list[Volunteer]:
    known = {v.phone: v for v in session.scalars(select(Volunteer))}
    people: list[Volunteer] = []
    plan = (
        [VolunteerKind.STUDENT] * 26
        + [VolunteerKind.AMBASSADOR] * 8
        + [VolunteerKind.COMMUNITY] * 6
    )
    skill_codes = list(skills)
    for index, kind in enumerate(plan):
        # One generator per person: what exists already never shifts the others.
        rng = random.Random(f"{SEED}:volunteer:{index}")
        phone = _phone(rng)
        minor = kind is VolunteerKind.STUDENT and index % 5 == 4
        age = (
            rng.randint(15, 17)
            if minor
            else (rng.randint(19, 23) if kind is VolunteerKind.STUDENT else rng.randint(24, 55))
        )
        born = date(today.year - age, rng.randint(1, 12), rng.randint(1, 28))
        if born > today.replace(year=today.year - age):
            born = born.replace(year=born.year - 1)
        family = rng.choice(FAMILY)
        name = f"{family} {rng.choice(YOUNG if age < 30 else ELDER_MEN + ELDER_WOMEN)}"
        spec = DEMO_COMMUNES[index % len(DEMO_COMMUNES)]
        commune = communes[spec.code]
        hamlet = rng.choice(hamlets[spec.code])
        lat, lng = _near(rng, hamlet.lat or 0, hamlet.lng or 0, 0.4)
        mode = rng.choices(
            [TravelMode.MOTORBIKE, TravelMode.BICYCLE, TravelMode.WALK], weights=[6, 3, 1]
        )[0]
        own_skills = rng.sample(skill_codes, k=rng.randint(2, 5))
        if kind is VolunteerKind.AMBASSADOR and "vneid" not in own_skills:
            own_skills.append("vneid")
        slots = rng.sample(list(AvailabilitySlot), k=rng.randint(2, 4))
        languages = ["vi"] + (["en"] if rng.random() < 0.3 else [])
        if index in (7, 21):
            languages.append("hre" if index == 7 else "km")
        school = (
            rng.choice(SCHOOLS_MINOR if minor else SCHOOLS_ADULT)
            if kind is VolunteerKind.STUDENT
            else (
                f"Đoàn {commune.name}"
                if kind is VolunteerKind.AMBASSADOR
                else f"Tổ công nghệ số cộng đồng {commune.name}"
            )
        )
        status = VolunteerStatus.PENDING if index in (11, 29, 37) else VolunteerStatus.ACTIVE
        if phone in known:
            people.append(known[phone])
            continue
        volunteer = Volunteer(
            full_name=name,
            phone=phone,
            phone_verified_at=now - timedelta(days=rng.randint(5, 60)),
            kind=kind,
            school_or_unit=school,
            date_of_birth=born,
            guardian_name=f"{family} {rng.choice(ELDER_MEN + ELDER_WOMEN)}" if minor else None,
            guardian_phone=_phone(random.Random(index)) if minor else None,
            guardian_consent_at=now - timedelta(days=10) if minor else None,
            consent_at=now - timedelta(days=rng.randint(5, 60)),
            consent_version=CONSENT_VERSION,
            home_commune=commune,
            home_hamlet=hamlet,
            home_lat=lat,
            home_lng=lng,
            travel_mode=mode,
            languages=languages,
            max_visits_per_day=rng.choice([3, 4, 4, 5, 6]),
            status=status,
            source="web",
            approved_at=None if status is VolunteerStatus.PENDING else now - timedelta(days=3),
        )
        volunteer.skills = [
            VolunteerSkill(skill=skills[code], level=rng.randint(1, 3)) for code in own_skills
        ]
        volunteer.availability = [VolunteerAvailability(slot=slot) for slot in slots]
        if rng.random() < 0.15:
            start = today + timedelta(days=rng.randint(20, 40))
            volunteer.absences = [
                VolunteerAbsence(
                    first_day=start, last_day=start + timedelta(days=6), note="Thi học kỳ"
                )
            ]
        session.add(volunteer)
        people.append(volunteer)
        known[phone] = volunteer
    session.flush()
    return people


def _reference(rng: random.Random) -> str:
    return "".join(rng.choice(REFERENCE_ALPHABET) for _ in range(REFERENCE_LENGTH))


def _seeded_before(session: Session, label: str, count: int) -> bool:
    """Return True when requests of this batch (``label``) are already in the database."""
    # Each request's reference is the first draw of its own generator (see _requests).
    references = [_reference(random.Random(f"{SEED}:{label}:{i}")) for i in range(count)]
    found = session.scalar(select(HelpRequest.id).where(HelpRequest.reference.in_(references)))
    return found is not None


#: The end of every demo drive's name ("Cuối tuần số 06/12/2026 - trung tâm Huế").
DRIVE_NAME_END = " - trung tâm Huế"


def _requests(
    session: Session,
    communes: dict[str, Commune],
    hamlets: dict[str, list[Hamlet]],
    services: dict[str, Service],
    drive_day: date,
    now: datetime,
    count: int = 150,
    label: str = "request",
) -> list[HelpRequest]:
    # Only this batch's references: a national database holds a million requests.
    wanted = [_reference(random.Random(f"{SEED}:{label}:{i}")) for i in range(count)]
    known = {
        r.reference: r
        for r in session.scalars(select(HelpRequest).where(HelpRequest.reference.in_(wanted)))
    }
    made: list[HelpRequest] = []
    codes = list(SERVICE_WEIGHTS)
    weights = [SERVICE_WEIGHTS[c] for c in codes]
    for index in range(count):
        rng = random.Random(f"{SEED}:{label}:{index}")
        reference = _reference(rng)
        spec = rng.choices(DEMO_COMMUNES, weights=[5, 4, 5, 4, 2, 2])[0]
        commune = communes[spec.code]
        hamlet = rng.choice(hamlets[spec.code])
        female = rng.random() < 0.62
        family = rng.choice(FAMILY)
        age_group = rng.choices(list(AgeGroup), weights=[1, 3, 6, 7])[0]
        given = rng.choice(ELDER_WOMEN if female else ELDER_MEN)
        if age_group in (AgeGroup.UNDER_18, AgeGroup.ADULT):
            given = rng.choice(YOUNG)
        beneficiary = f"{family} {given}"
        situations: list[str] = []
        if age_group is AgeGroup.ELDERLY and rng.random() < 0.45:
            situations.append(Situation.ELDERLY_ALONE.value)
        if rng.random() < 0.14:
            situations.append(Situation.DISABILITY.value)
        if rng.random() < 0.12:
            situations.append(Situation.ILLNESS.value)
        if rng.random() < 0.25:
            situations.append(Situation.NO_SMARTPHONE.value)
        if not spec.urban and rng.random() < 0.5:
            situations.append(Situation.REMOTE.value)
        asker_is_self = rng.random() < 0.45
        has_phone = rng.random() < 0.88
        chosen = sorted(
            set(rng.choices(codes, weights=weights, k=rng.choice([1, 1, 2, 2, 3]))),
            key=codes.index,
        )
        lat = lng = None
        source_of_location = LocationSource.HAMLET
        if rng.random() < 0.55:
            lat, lng = _near(rng, hamlet.lat or 0, hamlet.lng or 0, 0.35)
            source_of_location = LocationSource.PIN
        status = rng.choices(
            [RequestStatus.NEW, RequestStatus.TRIAGED, RequestStatus.CANCELLED], weights=[9, 10, 1]
        )[0]
        house_number = rng.randint(1, 180)
        street = rng.choice(spec.streets)
        house = (
            f"{house_number} kiệt {rng.randint(2, 120)} {street}"
            if spec.urban and rng.random() < 0.6
            else f"{house_number} {street}"
        )
        created = now - timedelta(days=rng.randint(0, 21), minutes=rng.randint(0, 1200))
        if reference in known:
            made.append(known[reference])
            continue
        wants_window = rng.random() < 0.35
        morning = rng.random() < 0.6
        note = rng.choice(NOTES)
        landmark = rng.choice(LANDMARKS) if rng.random() < 0.8 else None
        relation = rng.choice(RELATIONS)
        contact_given = rng.choice(YOUNG)
        phone = _phone(rng) if has_phone else None
        people = rng.choice([1, 1, 1, 2, 2, 3])
        request = HelpRequest(
            reference=reference,
            status=status,
            source=rng.choices(
                [
                    RequestSource.WEB,
                    RequestSource.PHONE,
                    RequestSource.IN_PERSON,
                    RequestSource.API,
                ],
                weights=[6, 3, 2, 1],
            )[0],
            priority=suggest_priority(age_group, situations),
            beneficiary_name=beneficiary,
            age_group=age_group,
            situations=situations,
            people_count=people,
            languages=[],
            contact_is_beneficiary=asker_is_self,
            contact_name=None if asker_is_self else f"{family} {contact_given}",
            contact_relation=None if asker_is_self else relation,
            phone=phone,
            phone_is_mobile=has_phone,
            reach_note=None if has_phone else "Liên hệ qua tổ trưởng tổ dân phố",
            commune=commune,
            hamlet=hamlet,
            house=house,
            landmark=landmark,
            lat=lat,
            lng=lng,
            location_source=source_of_location,
            notes=note,
            consent_at=created,
            consent_version=CONSENT_VERSION,
            created_at=created,
            status_changed_at=created,
        )
        request.services = [services[c] for c in chosen]
        if wants_window:
            start = _at(drive_day, 7, 30) if morning else _at(drive_day, 14, 0)
            end = _at(drive_day, 11, 0) if morning else _at(drive_day, 17, 0)
            request.windows = [RequestWindow(starts_at=start, ends_at=end)]
        session.add(request)
        made.append(request)
        known[reference] = request
    session.flush()
    return made


def _upcoming_drive(
    session: Session,
    communes: dict[str, Commune],
    requests: list[HelpRequest],
    volunteers: list[Volunteer],
    saturday: date,
    coordinator: User | None,
) -> int:
    name = f"Cuối tuần số {saturday.strftime('%d/%m/%Y')}{DRIVE_NAME_END}"
    if session.scalar(select(Drive.id).where(Drive.name == name)) is not None:
        return 0
    # Run again on a later week, the demo keeps the open drive it has (whatever its date)
    # rather than add a second one with the same requests.
    still_open = session.scalar(
        select(Drive.id).where(
            Drive.name.endswith(DRIVE_NAME_END),
            Drive.status.not_in([DriveStatus.COMPLETED, DriveStatus.CANCELLED]),
        )
    )
    if still_open is not None:
        return 0
    sunday = saturday + timedelta(days=1)
    drive = Drive(
        name=name,
        status=DriveStatus.DRAFT,
        team_size=2,
        communes=[communes[c] for c in DRIVE_COMMUNES],
        created_by_id=coordinator.id if coordinator else None,
        notes="Ưu tiên người cao tuổi sống một mình và người khuyết tật.",
    )
    drive.blocks = [
        TimeBlock(starts_at=_at(saturday, 7, 30), ends_at=_at(saturday, 11, 0)),
        TimeBlock(starts_at=_at(saturday, 14, 0), ends_at=_at(saturday, 17, 0)),
        TimeBlock(starts_at=_at(sunday, 7, 30), ends_at=_at(sunday, 11, 0)),
    ]
    thuan_hoa, vy_da = communes["19789"], communes["19777"]
    drive.meeting_points = [
        MeetingPoint(
            name="Nhà văn hóa Đoàn phường Thuận Hóa",
            address="Đường Lê Lợi, phường Thuận Hóa",
            commune_id=thuan_hoa.id,
            lat=round((thuan_hoa.lat or 16.4556) + 0.002, 6),
            lng=round((thuan_hoa.lng or 107.584) - 0.001, 6),
        ),
        MeetingPoint(
            name="Trụ sở Đoàn phường Vỹ Dạ",
            address="Đường Nguyễn Sinh Cung, phường Vỹ Dạ",
            commune_id=vy_da.id,
            lat=round((vy_da.lat or 16.4779) - 0.001, 6),
            lng=round((vy_da.lng or 107.611) + 0.002, 6),
        ),
    ]
    in_scope = {communes[c].id for c in DRIVE_COMMUNES}
    # Every open request of the four wards, follow-ups of the past drives included.
    drive.requests = [
        DriveRequest(request=r)
        for r in session.scalars(
            select(HelpRequest)
            .where(
                HelpRequest.commune_id.in_(in_scope),
                HelpRequest.status.in_([RequestStatus.NEW, RequestStatus.TRIAGED]),
            )
            .order_by(HelpRequest.id)
        )
    ]
    answers = [InvitationStatus.ACCEPTED] * 3 + [
        InvitationStatus.INVITED,
        InvitationStatus.DECLINED,
    ]
    drive.volunteers = [
        DriveVolunteer(volunteer=v, status=answers[i % len(answers)])
        for i, v in enumerate(volunteers)
        if v.status is VolunteerStatus.ACTIVE
        and v.home_commune_id in in_scope | {communes["19774"].id}
    ]
    session.add(drive)
    session.flush()
    if coordinator is not None:
        from volunteer_hub.services.drives.teams import form_teams

        form_teams(session, drive, user=coordinator, tz=TZ)
    return 1


PAST_DRIVES = (3, 6)  # weeks ago
PAST_DRIVE_REQUESTS = 36
OUTCOME_WEIGHTS = {
    Outcome.DONE: 74,
    Outcome.PARTLY_DONE: 9,
    Outcome.REFERRED: 6,
    Outcome.NOT_POSSIBLE: 5,
    Outcome.NOT_HOME: 6,
}
NOT_POSSIBLE_REASONS = (
    "Chưa có căn cước gắn chip",
    "SIM không đăng ký chính chủ",
    "Không có điện thoại thông minh",
)
REFERRED_REASONS = ("Công an phường", "Bộ phận một cửa UBND phường")


def _past_drive(
    session: Session,
    *,
    weeks_ago: int,
    communes: dict[str, Commune],
    hamlets: dict[str, list[Hamlet]],
    services: dict[str, Service],
    volunteers: list[Volunteer],
    coordinator: User | None,
    today: date,
) -> int:
    """A completed drive some weeks ago: planned, published, visited and reported."""
    from volunteer_hub.models import Message, MessageStatus, PlanStatus, VisitStatus
    from volunteer_hub.services.drives import planning, publishing
    from volunteer_hub.services.drives.teams import form_teams
    from volunteer_hub.services.results.outcomes import OutcomeIn, ServiceOutcomeIn, record_outcome

    saturday = next_saturday(today) - timedelta(weeks=weeks_ago + 1)
    name = f"Cuối tuần số {saturday.strftime('%d/%m/%Y')}{DRIVE_NAME_END}"
    label = f"past{weeks_ago}"
    if (
        coordinator is None
        or session.scalar(select(Drive.id).where(Drive.name == name)) is not None
        # Seeded on an earlier day: its requests are there (visited, done) under another date.
        or _seeded_before(session, label, PAST_DRIVE_REQUESTS)
    ):
        return 0
    rng = random.Random(f"{SEED}:past:{weeks_ago}")
    asked_at = _at(saturday - timedelta(days=3), 9, 0)
    requests = _requests(
        session,
        communes,
        hamlets,
        services,
        saturday,
        asked_at,
        count=PAST_DRIVE_REQUESTS,
        label=label,
    )
    drive = Drive(
        name=name,
        status=DriveStatus.DRAFT,
        team_size=2,
        created_by_id=coordinator.id,
        communes=[communes[c] for c in DRIVE_COMMUNES],
    )
    drive.blocks = [
        TimeBlock(starts_at=_at(saturday, 7, 30), ends_at=_at(saturday, 11, 0)),
        TimeBlock(starts_at=_at(saturday, 14, 0), ends_at=_at(saturday, 17, 0)),
    ]
    thuan_hoa = communes["19789"]
    drive.meeting_points = [
        MeetingPoint(
            name="Nhà văn hóa Đoàn phường Thuận Hóa",
            commune_id=thuan_hoa.id,
            lat=round((thuan_hoa.lat or 16.4556) + 0.002, 6),
            lng=round((thuan_hoa.lng or 107.584) - 0.001, 6),
        ),
    ]
    in_scope = {communes[c].id for c in DRIVE_COMMUNES}
    drive.requests = [
        DriveRequest(request=r)
        for r in requests
        if r.commune_id in in_scope and r.status in (RequestStatus.NEW, RequestStatus.TRIAGED)
    ]
    drive.volunteers = [
        DriveVolunteer(volunteer=v, status=InvitationStatus.ACCEPTED)
        for v in volunteers
        if v.status is VolunteerStatus.ACTIVE and v.home_commune_id in in_scope
    ]
    session.add(drive)
    session.flush()
    form_teams(session, drive, user=coordinator, tz=TZ)
    plan = planning.start_plan(
        session, drive, user=coordinator, tz=TZ, time_limit_s=20, solution_limit=80
    )
    result = planning.solve_stored(plan, workers=1, progress=None, should_stop=None, previous=None)
    planning.store_result(session, plan, result)
    plan.status = PlanStatus.DONE
    plan.started_at = plan.finished_at = _at(saturday - timedelta(days=2), 20, 0)
    plan.progress = {
        "served": result.stats.served,
        "served_priority": result.stats.served_priority,
        "travel_min": round(result.stats.travel_min, 1),
        "elapsed_s": 3.0,
    }
    publishing.publish_plan(
        session, plan, user=coordinator, now=_at(saturday - timedelta(days=2), 20, 5)
    )
    # What the SMS provider reported back for that weekend.
    for message in session.scalars(select(Message).where(Message.drive_id == drive.id)):
        failed = rng.random() < 0.04
        message.status = MessageStatus.FAILED if failed else MessageStatus.DELIVERED
        message.provider = "twilio"
        message.provider_sid = f"SMdemo{drive.id:04d}{message.id:08d}"
        message.sent_at = message.status_updated_at = _at(saturday - timedelta(days=2), 20, 6)
        message.delivered_at = None if failed else message.sent_at
        message.error_code = "30006" if failed else None
        message.price = None if failed else -0.0478 * message.segments
        message.price_unit = "USD"
    codes = list(OUTCOME_WEIGHTS)
    weights = [OUTCOME_WEIGHTS[c] for c in codes]
    for visit in sorted(plan.visits, key=lambda v: v.id):
        if visit.team is None or visit.status is VisitStatus.CANCELLED:
            continue
        away = rng.random() < OUTCOME_WEIGHTS[Outcome.NOT_HOME] / 100
        chosen: dict[str, ServiceOutcomeIn] = {}
        for service in visit.request.services:
            outcome = Outcome.NOT_HOME if away else rng.choices(codes[:-1], weights=weights[:-1])[0]
            reason = None
            if outcome is Outcome.NOT_POSSIBLE:
                reason = rng.choice(NOT_POSSIBLE_REASONS)
            elif outcome is Outcome.REFERRED:
                reason = rng.choice(REFERRED_REASONS)
            chosen[service.code] = ServiceOutcomeIn(outcome=outcome, reason=reason)
        planned = (
            int((visit.ends_at - visit.starts_at).total_seconds() // 60) if visit.ends_at else 30
        )
        data = OutcomeIn(
            services=chosen,
            people_helped=0
            if away
            else min(visit.request.people_count, rng.choice([1, 1, 2, 2, 3])),
            minutes_spent=5 if away else max(10, planned + rng.randint(-10, 15)),
        )
        record_outcome(session, visit, data, tz=TZ, user=coordinator, now=visit.ends_at)
    drive.status = DriveStatus.COMPLETED
    session.flush()
    return 1


def seed_demo(
    session: Session,
    *,
    password: str | None = None,
    now: datetime | None = None,
) -> DemoReport:
    """Load Huế and the demo data; safe to run again (nothing is duplicated).

    The demo accounts get ``password``, or a random one (in the report) when it is None. A
    database holding any other account is refused with :class:`DemoError`.
    """
    _refuse_real_accounts(session)
    now = now or datetime.now(UTC)
    today = now.astimezone(TZ).date()
    report = DemoReport()

    load_places(session, "Huế")
    load_default_catalogue(session)
    communes = {
        c.code: c
        for c in session.scalars(
            select(Commune).where(Commune.code.in_([d.code for d in DEMO_COMMUNES]))
        )
    }
    hamlets = {spec.code: _hamlets(session, communes[spec.code], spec) for spec in DEMO_COMMUNES}
    report.accounts, report.password = _accounts(
        session, password, [communes[d.code] for d in DEMO_COMMUNES]
    )
    skills = {s.code: s for s in session.scalars(select(Skill))}
    services = {s.code: s for s in session.scalars(select(Service))}

    before_vol = session.scalar(select(func.count(Volunteer.id))) or 0
    volunteers = _volunteers(session, communes, hamlets, skills, today, now)
    report.volunteers = (session.scalar(select(func.count(Volunteer.id))) or 0) - before_vol

    before_req = session.scalar(select(func.count(HelpRequest.id))) or 0
    saturday = next_saturday(today)
    requests = _requests(session, communes, hamlets, services, saturday, now)
    report.requests = (session.scalar(select(func.count(HelpRequest.id))) or 0) - before_req

    coordinator = find_user(session, COORDINATOR_EMAIL)
    for weeks in PAST_DRIVES:
        report.drives += _past_drive(
            session,
            weeks_ago=weeks,
            communes=communes,
            hamlets=hamlets,
            services=services,
            volunteers=volunteers,
            coordinator=coordinator,
            today=today,
        )
    report.requests = (session.scalar(select(func.count(HelpRequest.id))) or 0) - before_req
    report.drives += _upcoming_drive(session, communes, requests, volunteers, saturday, coordinator)
    session.flush()
    return report
