"""The service catalogue: skills and the help items households can ask for."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from volunteer_hub.models import Service, Skill
from volunteer_hub.models.search import fold


@dataclass(frozen=True)
class SkillSpec:
    """A default skill."""

    code: str
    name_vi: str
    name_en: str


@dataclass(frozen=True)
class ServiceSpec:
    """A default catalogue item."""

    code: str
    name_vi: str
    name_en: str
    usual_min: int
    skill: str
    bring_vi: str | None = None
    bring_en: str | None = None


DEFAULT_SKILLS = (
    SkillSpec("vneid", "VNeID (định danh điện tử)", "VNeID (national digital ID)"),
    SkillSpec("public_services", "Dịch vụ công trực tuyến", "Online public services"),
    SkillSpec("epayment", "Thanh toán không dùng tiền mặt", "Cashless payment"),
    SkillSpec("city_app", "Ứng dụng của thành phố (Hue-S)", "The city's app (Hue-S)"),
    SkillSpec("health_book", "Sổ sức khỏe điện tử", "Electronic health book"),
    SkillSpec("online_safety", "An toàn trên mạng", "Staying safe online"),
    SkillSpec("smartphone", "Sử dụng điện thoại thông minh", "Smartphone basics"),
)

_ID_AND_PHONE_VI = "Căn cước công dân gắn chip, điện thoại của chính người cần hỗ trợ"
_ID_AND_PHONE_EN = "Chip ID card and the person's own phone"

DEFAULT_SERVICES = (
    ServiceSpec(
        "vneid_install",
        "Cài đặt ứng dụng VNeID",
        "Install the VNeID app",
        20,
        "vneid",
        _ID_AND_PHONE_VI,
        _ID_AND_PHONE_EN,
    ),
    ServiceSpec(
        "vneid_activate",
        "Kích hoạt tài khoản định danh điện tử mức 2",
        "Activate the level-2 digital ID account",
        30,
        "vneid",
        "Căn cước công dân gắn chip, SIM đăng ký chính chủ, điện thoại của chính người cần hỗ trợ",
        "Chip ID card, a SIM registered in the person's own name, their own phone",
    ),
    ServiceSpec(
        "temp_residence",
        "Khai báo tạm trú, lưu trú",
        "Temporary residence declaration",
        30,
        "public_services",
        _ID_AND_PHONE_VI,
        _ID_AND_PHONE_EN,
    ),
    ServiceSpec(
        "birth_registration",
        "Đăng ký khai sinh trực tuyến",
        "Birth registration online",
        40,
        "public_services",
        "Giấy chứng sinh, căn cước của cha mẹ",
        "Birth certificate from the hospital, the parents' ID cards",
    ),
    ServiceSpec(
        "social_benefits",
        "Hồ sơ trợ cấp người cao tuổi, người khuyết tật",
        "Benefits for the elderly, sick and disabled",
        40,
        "public_services",
        "Căn cước, giấy xác nhận khuyết tật (nếu có), sổ tài khoản ngân hàng",
        "ID card, disability certificate (if any), bank account details",
    ),
    ServiceSpec(
        "judicial_record",
        "Cấp phiếu lý lịch tư pháp",
        "Judicial record certificate",
        30,
        "public_services",
        _ID_AND_PHONE_VI,
        _ID_AND_PHONE_EN,
    ),
    ServiceSpec(
        "driving_licence",
        "Đổi giấy phép lái xe trực tuyến",
        "Driving licence renewal online",
        30,
        "public_services",
        "Giấy phép lái xe cũ, giấy khám sức khỏe, căn cước",
        "The old licence, a health certificate, ID card",
    ),
    ServiceSpec(
        "bank_app",
        "Cài ứng dụng ngân hàng hoặc ví điện tử",
        "Bank app or e-wallet setup",
        30,
        "epayment",
        "Căn cước, điện thoại, SIM chính chủ",
        "ID card, phone, a SIM in the person's own name",
    ),
    ServiceSpec("qr_payment", "Thanh toán bằng mã QR", "Paying by QR code", 20, "epayment"),
    ServiceSpec("hue_s", "Cài đặt và sử dụng Hue-S", "Install and use Hue-S", 20, "city_app"),
    ServiceSpec(
        "health_book",
        "Sổ sức khỏe điện tử",
        "Electronic health book",
        25,
        "health_book",
        _ID_AND_PHONE_VI,
        _ID_AND_PHONE_EN,
    ),
    ServiceSpec(
        "scam_safety",
        "Phòng tránh lừa đảo qua điện thoại, đường link giả",
        "Avoiding scam calls and fake links",
        15,
        "online_safety",
    ),
    ServiceSpec(
        "smartphone_basics",
        "Dùng Zalo, gọi video, kết nối internet",
        "Zalo, video calls, getting online",
        25,
        "smartphone",
    ),
)


def load_default_catalogue(session: Session) -> tuple[int, int]:
    """Insert the default skills and services that are missing; return how many were added."""
    skills = {s.code: s for s in session.scalars(select(Skill))}
    added_skills = 0
    for spec in DEFAULT_SKILLS:
        if spec.code not in skills:
            skills[spec.code] = Skill(code=spec.code, name_vi=spec.name_vi, name_en=spec.name_en)
            session.add(skills[spec.code])
            added_skills += 1
    existing = set(session.scalars(select(Service.code)))
    added_services = 0
    for order, spec in enumerate(DEFAULT_SERVICES):
        if spec.code in existing:
            continue
        session.add(
            Service(
                code=spec.code,
                name_vi=spec.name_vi,
                name_en=spec.name_en,
                usual_min=spec.usual_min,
                skill=skills[spec.skill],
                bring_vi=spec.bring_vi,
                bring_en=spec.bring_en,
                sort_order=order,
            )
        )
        added_services += 1
    session.flush()
    return added_skills, added_services


def active_services(session: Session) -> list[Service]:
    """Return the catalogue items households can ask for, in display order."""
    return list(
        session.scalars(
            select(Service).where(Service.active.is_(True)).order_by(Service.sort_order, Service.id)
        )
    )


# What every household is asked to have ready anyway (the link page's first three lines):
# the person's own chip ID card, phone and SIM. A service's "bring" item that says only
# this is not repeated under them. Folded (no accents, lower case, no leading article).
_ALWAYS_READY = frozenset(
    {
        "can cuoc cong dan gan chip",
        "can cuoc",
        "cccd",
        "dien thoai",
        "dien thoai cua chinh nguoi can ho tro",
        "sim chinh chu",
        "sim dang ky chinh chu",
        "chip id card",
        "id card",
        "chip id card and the person's own phone",
        "phone",
        "their own phone",
        "the person's own phone",
        "sim in the person's own name",
        "sim registered in the person's own name",
    }
)
_ARTICLE = re.compile(r"^(a|an|the)\s+")


def _folded_item(text: str) -> str:
    return _ARTICLE.sub("", " ".join(fold(text).split()))


def things_to_bring(services: Iterable[Service], locale: str) -> list[str]:
    """What the services of a request ask to have ready, beyond the ID card, phone and SIM.

    Each service's text is split at commas and semicolons; an item is listed once
    (accents, case and a leading article ignored), in the order of the services, and an
    item that only repeats the always-ready three is left out.
    """
    seen: set[str] = set()
    items: list[str] = []
    for service in services:
        text = service.bring(locale)
        if not text:
            continue
        for part in re.split(r"[,;]", text):
            item = part.strip()
            key = _folded_item(item)
            if not key or key in _ALWAYS_READY or key in seen:
                continue
            seen.add(key)
            items.append(item[:1].upper() + item[1:])
    return items
