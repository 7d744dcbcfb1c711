"""Fixtures of the SMS tests: fakes, settings, and a published visit to send messages about."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests import factories
from tests.fakes import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio, FixedClock, RecordingGateway
from volunteer_hub.models import (
    Drive,
    Plan,
    RequestStatus,
    TimeBlock,
    Visit,
    VisitStatus,
    Volunteer,
)
from volunteer_hub.services.messaging.settings import SmsSettings

VN = ZoneInfo("Asia/Ho_Chi_Minh")
PUBLIC = "https://hotro.example.vn"


def vn(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    """An aware datetime, given in Vietnam's local time."""
    return datetime(year, month, day, hour, minute, tzinfo=VN)


# Thursday 26 November 2026, 10:00 in Vietnam: the drive is on Saturday 28. Tests that queue
# a message and then send it with the clock queue it at this time, not at the machine's time,
# so they pass whatever day they run.
THURSDAY = vn(2026, 11, 26, 10).astimezone(UTC)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(THURSDAY)


@pytest.fixture
def settings() -> SmsSettings:
    return SmsSettings(
        sender_name="Đoàn TN Huế",
        public_base_url=PUBLIC,
        # No quiet hours by default: they cover 14:00-24:00 UTC, when the suite must pass too.
        # The quiet-hours tests set them.
        quiet_hours=None,
        secret_key="test-secret",
        retry_base_s=30,
        sending_timeout_s=300,
    )


@pytest.fixture
def gateway() -> RecordingGateway:
    return RecordingGateway()


@pytest.fixture
def fake_twilio():  # type: ignore[no-untyped-def]
    with FakeTwilio() as fake:
        yield fake


def twilio_config(fake: FakeTwilio, **extra: object) -> dict[str, object]:
    """App config that points the real twilio client at the fake."""
    return {
        "SMS_BACKEND": "twilio",
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_FROM": "+15005550006",
        "TWILIO_API_BASE_URL": fake.base_url,
        "PUBLIC_BASE_URL": PUBLIC,
        "SMS_HTTP_TIMEOUT_S": 5,
        **extra,
    }


@dataclass
class PublishedVisit:
    """A visit of a published plan: a pair of volunteers going to one household."""

    drive: Drive
    plan: Plan
    visit: Visit
    lan: Volunteer
    huy: Volunteer


def publish_visit(
    session,
    part,
    *,
    starts_at: datetime | None = None,  # type: ignore[no-untyped-def]
    published_at: datetime | None = None,
    services=None,
) -> PublishedVisit:
    """Turn a commune world into a published plan with one scheduled visit at ``starts_at``."""
    starts_at = starts_at or vn(2026, 11, 28, 8, 0)
    drive = part.drive
    drive.blocks = [TimeBlock(starts_at=vn(2026, 11, 28, 7, 30), ends_at=vn(2026, 11, 28, 11, 0))]
    lan = factories.volunteer(session, part.commune, full_name="Nguyễn Thị Lan")
    huy = factories.volunteer(session, part.commune, full_name="Trần Quốc Huy")
    part.team.members = [lan, huy]
    part.request.house = "12 kiệt 5 Lê Lợi"
    part.request.landmark = "gần chợ Đông Ba"
    part.request.beneficiary_name = "Hoàng Thị Hoa"
    part.request.status = RequestStatus.SCHEDULED
    if services:
        part.request.services = services
    plan = part.plan
    plan.published_at = published_at or vn(2026, 11, 25, 9)
    visit = part.visit
    visit.status = VisitStatus.SCHEDULED
    visit.starts_at = starts_at
    visit.arrival_at = starts_at
    visit.ends_at = starts_at + timedelta(minutes=45)
    visit.shift_index = 0
    session.flush()
    return PublishedVisit(drive, plan, visit, lan, huy)


@pytest.fixture
def published(session, world):  # type: ignore[no-untyped-def]
    found = publish_visit(session, world.a, services=list(world.services.values())[:2])
    # Commune B's plan stays a draft, so reminders and replies concern world.a's visit only.
    world.b.plan.published_at = None
    session.commit()
    return found
