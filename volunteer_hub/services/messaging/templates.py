"""SMS texts: one template per kind and language, defaults in code, admins' edits in the database.

A template is plain text with ``{placeholders}``. Every message starts with ``{sender}`` (people
must know who writes to them) and messages people act on carry ``{link}``. Rendering fills the
placeholders and, for drives set to "unaccented", strips the tone marks from the whole text
(GSM-7 instead of UCS-2: twice the characters per part).
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import format_decimal
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from volunteer_hub.models import MessageTemplate, utcnow
from volunteer_hub.services.messaging.settings import SmsSettings, sms_settings
from volunteer_hub.sms.text import TextStats, analyse, unaccent

LOCALES = ("vi", "en")
MAX_TEMPLATE_CHARS = 1000

#: What each placeholder stands for, shown to admins next to the editor.
PLACEHOLDERS: dict[str, Any] = {
    "sender": _l("who writes (the sender's name setting)"),
    "code": _l("the 6-digit code, or the visit's reply code"),
    "date": _l("the day of the visit"),
    "time": _l("the time of the visit"),
    "window": _l("the time window the household should be home"),
    "address": _l("the household's address and landmark"),
    "landmark": _l("the landmark alone"),
    "services": _l("what the household asked for"),
    "partner": _l("the other volunteer(s) of the team"),
    "team": _l("the first names of the team"),
    "count": _l("the number of visits that day"),
    "link": _l("the personal link"),
    "text": _l("the text of a broadcast"),
    "drive": _l("the drive's name"),
    "volunteer": _l("the volunteer's first name (messages to a guardian)"),
    "area": _l("the hamlets and communes of the day's visits, without house or landmark"),
    "contact": _l(
        "the drive's coordinator to call, with its words (“ Liên hệ Lan: 0905123456.”), "
        "or nothing when the coordinator's account has no mobile"
    ),
    "place": _l("where the day's first visit is: the house and hamlet"),
}


@dataclass(frozen=True)
class TemplateKind:
    """A kind of message: what it is for, its placeholders, and which are required."""

    kind: str
    label: Any
    placeholders: tuple[str, ...]
    required: tuple[str, ...] = ("sender",)


_VISIT = (
    "sender",
    "code",
    "date",
    "time",
    "address",
    "landmark",
    "services",
    "partner",
    "link",
    "drive",
)
_HOME = ("sender", "code", "date", "time", "window", "team", "link", "drive")
#: A volunteer's SMS of the day: short (one UCS-2 part is 70 characters), the link says the rest.
_DAY = ("sender", "date", "count", "time", "place", "link", "drive")
#: A minor's guardian hears of the day, never of a household's address or details.
_GUARDIAN = (
    "sender",
    "volunteer",
    "date",
    "time",
    "area",
    "partner",
    "count",
    "drive",
    "contact",
)

KINDS: dict[str, TemplateKind] = {
    k.kind: k
    for k in (
        TemplateKind(
            "phone_code", _l("Phone verification code"), ("sender", "code"), ("sender", "code")
        ),
        TemplateKind("already_registered", _l("Volunteer: signed up again"), ("sender",)),
        TemplateKind("assignment", _l("Volunteer: assignment"), _VISIT, ("sender", "link")),
        TemplateKind(
            "day_assignment",
            _l("Volunteer: visits of the day"),
            _DAY,
            ("sender", "date", "link"),
        ),
        TemplateKind(
            "day_change", _l("Volunteer: the day changed"), _DAY, ("sender", "date", "link")
        ),
        TemplateKind(
            "day_cancellation",
            _l("Volunteer: no visit left that day"),
            ("sender", "date", "drive"),
            ("sender", "date"),
        ),
        TemplateKind(
            "household_confirmation", _l("Household: visit confirmation"), _HOME, ("sender", "link")
        ),
        TemplateKind(
            "reminder_volunteer_eve",
            _l("Volunteer: reminder the evening before"),
            _VISIT + ("count",),
            ("sender", "link"),
        ),
        TemplateKind(
            "reminder_volunteer_soon",
            _l("Volunteer: reminder 2 hours before the first visit of the day"),
            _VISIT,
            ("sender", "link"),
        ),
        TemplateKind(
            "reminder_household_day",
            _l("Household: reminder the day before"),
            _HOME,
            ("sender", "link"),
        ),
        TemplateKind(
            "reminder_household_morning",
            _l("Household: reminder that morning"),
            _HOME,
            ("sender", "link"),
        ),
        TemplateKind(
            "change_volunteer", _l("Volunteer: change notice"), _VISIT, ("sender", "link")
        ),
        TemplateKind("change_household", _l("Household: change notice"), _HOME, ("sender", "link")),
        TemplateKind("cancellation_volunteer", _l("Volunteer: cancellation"), _VISIT),
        TemplateKind("cancellation_household", _l("Household: cancellation"), _HOME),
        TemplateKind(
            "broadcast",
            _l("Whole-drive broadcast"),
            ("sender", "text", "drive"),
            ("sender", "text"),
        ),
        TemplateKind(
            "thanks_volunteer",
            _l("Volunteer: thanks for the day and the link to report each visit"),
            _DAY,
            ("sender", "link"),
        ),
        TemplateKind(
            "thanks_household", _l("Household: thanks and feedback link"), _HOME, ("sender", "link")
        ),
        TemplateKind(
            "guardian_assignment",
            _l("Guardian: a minor's visits of the day"),
            _GUARDIAN,
            ("sender", "volunteer", "date"),
        ),
        TemplateKind(
            "guardian_change",
            _l("Guardian: a minor's day changed"),
            _GUARDIAN,
            ("sender", "volunteer", "date"),
        ),
        TemplateKind(
            "guardian_cancellation",
            _l("Guardian: a minor's day is off"),
            _GUARDIAN,
            ("sender", "volunteer", "date"),
        ),
        TemplateKind("reply_help", _l("Reply: HELP"), ("sender",)),
        TemplateKind("reply_unknown", _l("Reply: text not understood"), ("sender",)),
        TemplateKind("reply_ok", _l("Reply: answer recorded"), ("sender", "code")),
        TemplateKind("reply_no_visit", _l("Reply: no visit with this code"), ("sender", "code")),
        TemplateKind("reply_opt_out", _l("Reply: opted out"), ("sender",)),
    )
}

# The texts used until an admin edits them. SMS bodies are data, not UI strings: they live
# here in both languages rather than in the gettext catalogs.
DEFAULTS: dict[str, dict[str, str]] = {
    "phone_code": {
        "vi": "{sender}: Mã xác nhận số điện thoại của bạn là {code}, dùng trong 10 phút. "
        "Không đưa mã này cho ai.",
        "en": "{sender}: Your phone confirmation code is {code}, valid for 10 minutes. "
        "Do not share it.",
    },
    "assignment": {
        "vi": "{sender}: Bạn được phân công hỗ trợ tại nhà {date} lúc {time}, {address}. "
        "Việc: {services}. Đi cùng: {partner}. Nhận hoặc từ chối: {link}",
        "en": "{sender}: You are assigned a home visit on {date} at {time}, {address}. "
        "Tasks: {services}. Partner: {partner}. Accept or decline: {link}",
    },
    # A volunteer's day: one SMS per drive day, its visits behind one link.
    "day_assignment": {
        "vi": "{sender}: {date} bạn có {count} lượt hỗ trợ, lượt đầu {time} tại {place}. "
        "Xem và nhận: {link}",
        "en": "{sender}: On {date} you have {count} visit(s), the first at {time} at {place}. "
        "See and answer: {link}",
    },
    "day_change": {
        "vi": "{sender}: Lịch {date} đã đổi: {count} lượt, lượt đầu {time} tại {place}. "
        "Xem lại: {link}",
        "en": "{sender}: Your visits on {date} changed: {count}, the first at {time} at "
        "{place}. See them: {link}",
    },
    "day_cancellation": {
        "vi": "{sender}: Các lượt hỗ trợ {date} của bạn đã hủy, hôm đó bạn không cần đi. "
        "Cảm ơn bạn.",
        "en": "{sender}: Your visits on {date} are cancelled: no need to come that day. Thank you.",
    },
    "household_confirmation": {
        "vi": "{sender}: Tình nguyện viên {team} sẽ đến nhà hỗ trợ {date}, khoảng {window}. "
        "Xin chuẩn bị CCCD gắn chip, điện thoại của người cần hỗ trợ, SIM chính chủ. "
        "Chúng tôi không bao giờ hỏi mã OTP. Xác nhận hoặc đổi giờ: {link}",
        "en": "{sender}: Volunteers {team} will come to help at your home on {date}, around "
        "{window}. Please have ready the chip ID card, the person's own phone and a SIM in "
        "their name. We never ask for OTP codes. Confirm or change: {link}",
    },
    "reminder_volunteer_eve": {
        "vi": "{sender}: Nhắc lịch: {date} bạn có {count} lượt hỗ trợ, lượt đầu lúc {time} "
        "tại {address}. Chi tiết: {link}",
        "en": "{sender}: Reminder: on {date} you have {count} visit(s), the first at {time} "
        "at {address}. Details: {link}",
    },
    "reminder_volunteer_soon": {
        "vi": "{sender}: Còn khoảng 2 giờ: lượt hỗ trợ đầu tiên lúc {time} tại {address}. "
        "Lịch cả ngày: {link}",
        "en": "{sender}: In about 2 hours: your first visit at {time} at {address}. "
        "Your day: {link}",
    },
    "reminder_household_day": {
        "vi": "{sender}: Nhắc lịch: {date}, khoảng {window}, tình nguyện viên {team} sẽ đến "
        "nhà hỗ trợ. Nhớ chuẩn bị CCCD gắn chip, điện thoại, SIM chính chủ. Không đưa mã OTP "
        "cho ai. {link}",
        "en": "{sender}: Reminder: on {date}, around {window}, volunteers {team} will come to "
        "help. Please have the chip ID card, the phone and its SIM ready. Never share an OTP. "
        "{link}",
    },
    "reminder_household_morning": {
        "vi": "{sender}: Hôm nay khoảng {window}, tình nguyện viên {team} sẽ đến nhà hỗ trợ. "
        "Không đưa mã OTP cho ai. Đổi giờ hoặc hủy: {link}",
        "en": "{sender}: Today around {window}, volunteers {team} will come to help at home. "
        "Never share an OTP. Change or cancel: {link}",
    },
    "change_volunteer": {
        "vi": "{sender}: Lịch hỗ trợ đã thay đổi: {date} lúc {time}, {address}. "
        "Xem và xác nhận: {link}",
        "en": "{sender}: Your visit changed: {date} at {time}, {address}. See and confirm: {link}",
    },
    "change_household": {
        "vi": "{sender}: Lịch hỗ trợ tại nhà đã đổi sang {date}, khoảng {window}. "
        "Xác nhận hoặc đổi giờ: {link}",
        "en": "{sender}: Your home visit moved to {date}, around {window}. "
        "Confirm or change: {link}",
    },
    "cancellation_volunteer": {
        "vi": "{sender}: Lượt hỗ trợ {date} lúc {time} tại {address} đã hủy. Cảm ơn bạn.",
        "en": "{sender}: The visit on {date} at {time} at {address} is cancelled. Thank you.",
    },
    "cancellation_household": {
        "vi": "{sender}: Lịch hỗ trợ tại nhà {date} đã hủy. Chúng tôi sẽ liên hệ lại nếu cần.",
        "en": "{sender}: The home visit on {date} is cancelled. We will contact you if needed.",
    },
    "broadcast": {
        "vi": "{sender}: {text}",
        "en": "{sender}: {text}",
    },
    "thanks_volunteer": {
        "vi": "{sender}: Cảm ơn bạn đã hỗ trợ {date}! Ghi lại kết quả từng lượt hỗ trợ tại: {link}",
        "en": "{sender}: Thank you for helping on {date}! Record how each visit went: {link}",
    },
    "thanks_household": {
        "vi": "{sender}: Cảm ơn gia đình đã đón tình nguyện viên. Góp ý cho chúng tôi: {link}",
        "en": "{sender}: Thank you for welcoming our volunteers. Tell us how it went: {link}",
    },
    # A minor's guardian: who, which day, roughly where and with whom; no household details.
    "guardian_assignment": {
        # Short: with the coordinator's contact it still fits one unaccented SMS part.
        "vi": "{sender}: {volunteer} sẽ đi hỗ trợ người dân {date}, {time}, tại {area}, cùng "
        "{partner}. Cảm ơn gia đình!{contact}",
        "en": "{sender}: {volunteer} will help residents on {date}, {time}, in {area}, with "
        "{partner}. Thank you!{contact}",
    },
    "guardian_change": {
        "vi": "{sender}: Lịch hỗ trợ của {volunteer} đã thay đổi: {date}, {time}, tại {area}, "
        "đi cùng {partner}.{contact}",
        "en": "{sender}: {volunteer}'s volunteering changed: {date}, {time}, in {area}, "
        "together with {partner}.{contact}",
    },
    "guardian_cancellation": {
        "vi": "{sender}: Lịch hỗ trợ của {volunteer} {date} đã hủy, hôm đó {volunteer} không "
        "cần đi.{contact}",
        "en": "{sender}: {volunteer}'s volunteering on {date} is cancelled: no need to go that "
        "day.{contact}",
    },
    "reply_help": {
        "vi": "{sender}: Trả lời CO <mã> để nhận, KHONG <mã> để từ chối, XONG <mã> khi đã "
        "xong, HUY để ngừng nhận tin. Hoặc dùng đường link trong tin nhắn.",
        "en": "{sender}: Reply YES <code> to accept, NO <code> to decline, XONG <code> when "
        "done, STOP to receive no more. Or use the link in our message.",
    },
    "reply_unknown": {
        "vi": "{sender}: Chúng tôi chưa hiểu tin nhắn. Trả lời HELP để xem hướng dẫn, hoặc "
        "dùng đường link trong tin nhắn.",
        "en": "{sender}: We did not understand. Reply HELP for instructions, or use the link "
        "in our message.",
    },
    "reply_ok": {
        "vi": "{sender}: Đã ghi nhận cho lượt {code}. Cảm ơn bạn!",
        "en": "{sender}: Recorded for visit {code}. Thank you!",
    },
    "reply_no_visit": {
        "vi": "{sender}: Không tìm thấy lượt hỗ trợ {code} của số điện thoại này.",
        "en": "{sender}: No visit {code} was found for this phone number.",
    },
    "already_registered": {
        "vi": "{sender}: Có người vừa đăng ký tình nguyện viên bằng số này. Bạn đã có tên trong "
        "danh sách rồi; muốn sửa thông tin, xin báo điều phối viên.",
        "en": "{sender}: Someone just signed up as a volunteer with this number. You are "
        "already registered; to change your details, ask your coordinator.",
    },
    "reply_opt_out": {
        "vi": "{sender}: Bạn sẽ không nhận tin nhắn từ chúng tôi nữa. Liên hệ điều phối viên "
        "nếu muốn nhận lại.",
        "en": "{sender}: You will receive no more messages from us. Ask your coordinator to "
        "receive them again.",
    },
}

#: Example values for the preview, close to a real message in length.
SAMPLES: dict[str, dict[str, str]] = {
    "vi": {
        "code": "482913",
        "date": "Thứ Bảy 29/11",
        "time": "07:30",
        "window": "07:30-08:30",
        "address": "12 kiệt 5 Lê Lợi, Tổ dân phố 1, Phường Thuận Hóa (gần chợ Đông Ba)",
        "landmark": "gần chợ Đông Ba",
        "services": "Kích hoạt VNeID, Thanh toán bằng mã QR",
        "partner": "Trần Minh Anh",
        "team": "Lan, Huy",
        "count": "3",
        "link": "https://hotro.example.vn/s/Ab3dE5fG7h",
        "text": "Dự báo mưa lớn sáng thứ Bảy, các đội nhớ mang áo mưa.",
        "drive": "Cuối tuần số 29/11",
        "volunteer": "Khôi",
        "area": "Tổ dân phố 1, Tổ dân phố 3, Phường Thuận Hóa",
        "contact": " Liên hệ Lan: 0905123456.",
        "place": "12 kiệt 5 Lê Lợi, Tổ dân phố 1",
    },
    "en": {
        "code": "482913",
        "date": "Saturday 29/11",
        "time": "07:30",
        "window": "07:30-08:30",
        "address": "12 kiệt 5 Lê Lợi, Tổ dân phố 1, Phường Thuận Hóa (near Đông Ba market)",
        "landmark": "near Đông Ba market",
        "services": "Activate VNeID, Pay by QR code",
        "partner": "Trần Minh Anh",
        "team": "Lan, Huy",
        "count": "3",
        "link": "https://hotro.example.vn/s/Ab3dE5fG7h",
        "text": "Heavy rain is forecast on Saturday morning: teams, bring raincoats.",
        "drive": "Digital weekend 29/11",
        "volunteer": "Khôi",
        "area": "Tổ dân phố 1, Tổ dân phố 3, Phường Thuận Hóa",
        "contact": " Contact Lan: 0905123456.",
        "place": "12 kiệt 5 Lê Lợi, Tổ dân phố 1",
    },
}


class TemplateError(ValueError):
    """A template cannot be saved; ``errors`` are the reasons, for people."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


def _fields(body: str) -> list[tuple[str, str | None, str | None, str | None]]:
    return list(string.Formatter().parse(body))


def template_errors(kind: str, body: str) -> list[str]:
    """Return what is wrong with a template text (empty when it can be saved)."""
    spec = KINDS.get(kind)
    if spec is None:
        return [str(_l("Unknown kind of message."))]
    errors: list[str] = []
    text = body or ""
    if not text.strip():
        return [str(_l("The text cannot be empty."))]
    if len(text) > MAX_TEMPLATE_CHARS:
        errors.append(
            str(
                _l(
                    "The text is too long (at most %(n)s characters).",
                    n=format_decimal(MAX_TEMPLATE_CHARS),
                )
            )
        )
    try:
        parsed = _fields(text)
    except ValueError:
        return [str(_l("Braces must come in pairs around a placeholder, like {link}."))]
    used = set()
    for _literal, name, spec_text, conversion in parsed:
        if name is None:
            continue
        if name not in spec.placeholders or spec_text or conversion:
            errors.append(
                str(
                    _l(
                        "Unknown placeholder {%(name)s}. Use: %(known)s.",
                        name=name,
                        known=", ".join(f"{{{p}}}" for p in spec.placeholders),
                    )
                )
            )
            continue
        used.add(name)
    for name in spec.required:
        if name not in used:
            errors.append(str(_l("The text must contain {%(name)s}.", name=name)))
    return errors


def template_body(session: Session, kind: str, locale: str) -> str:
    """Return the current text of a kind in a language (the admins' edit, else the default)."""
    locale = locale if locale in LOCALES else "vi"
    edited = session.scalar(
        select(MessageTemplate.body).where(
            MessageTemplate.kind == kind, MessageTemplate.locale == locale
        )
    )
    return edited if edited else DEFAULTS[kind][locale]


def fill(body: str, values: Mapping[str, Any]) -> str:
    """Replace each ``{placeholder}`` with its value (unknown ones become empty)."""
    out: list[str] = []
    for literal, name, _spec, _conversion in _fields(body):
        out.append(literal)
        if name is not None:
            value = values.get(name)
            out.append("" if value is None else str(value))
    return " ".join("".join(out).split())


def render_sms(
    session: Session,
    kind: str,
    locale: str,
    values: Mapping[str, Any],
    *,
    unaccented: bool,
    settings: SmsSettings | None = None,
) -> str:
    """Return the body of a message of this kind, in this language, ready to queue."""
    settings = sms_settings(settings)
    merged = {"sender": settings.sender_name, **values}
    text = fill(template_body(session, kind, locale), merged)
    return unaccent(text) if unaccented else text


@dataclass(frozen=True)
class Preview:
    """A template rendered with example values, and what it would cost."""

    body: str
    stats: TextStats
    cost: float
    price_unit: str


def preview(
    kind: str,
    locale: str,
    body: str,
    *,
    unaccented: bool,
    settings: SmsSettings | None = None,
) -> Preview:
    """Render ``body`` with example values; show the encoding, parts and price."""
    settings = sms_settings(settings)
    values = {"sender": settings.sender_name, **SAMPLES.get(locale, SAMPLES["vi"])}
    text = fill(body, values)
    if unaccented:
        text = unaccent(text)
    stats = analyse(text)
    return Preview(
        body=text,
        stats=stats,
        cost=round(stats.segments * settings.price_per_segment, 4),
        price_unit=settings.price_unit,
    )


def save_template(
    session: Session,
    kind: str,
    locale: str,
    body: str,
    *,
    user_id: int | None = None,
    now: datetime | None = None,
) -> MessageTemplate:
    """Store an admin's text for a kind and language; raise TemplateError when it is wrong."""
    if locale not in LOCALES:
        raise TemplateError([str(_l("Unknown language."))])
    errors = template_errors(kind, body)
    if errors:
        raise TemplateError(errors)
    row = session.scalar(
        select(MessageTemplate).where(
            MessageTemplate.kind == kind, MessageTemplate.locale == locale
        )
    )
    if row is None:
        row = MessageTemplate(kind=kind, locale=locale, body=body)
        session.add(row)
    row.body = body.strip()
    row.updated_by_id = user_id
    row.updated_at = now or utcnow()
    session.flush()
    return row


def reset_template(session: Session, kind: str, locale: str) -> bool:
    """Go back to the default text; return True when there was an edit to remove."""
    row = session.scalar(
        select(MessageTemplate).where(
            MessageTemplate.kind == kind, MessageTemplate.locale == locale
        )
    )
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True
