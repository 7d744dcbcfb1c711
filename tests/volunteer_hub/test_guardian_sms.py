"""A minor's parent or guardian hears of the minor's day: one SMS when the plan is published,
a word when it changes or is called off, never the same news twice (issue 14, item 4)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from tests import factories
from tests.conftest import login
from tests.volunteer_hub.test_replanning import TZ, solve
from volunteer_hub.models import Message, MessageStatus, Plan, Visit, utcnow
from volunteer_hub.services.drives import plan_review, planning, publishing
from volunteer_hub.services.messaging.notifications import GUARDIAN_KINDS
from volunteer_hub.services.messaging.outbox import opt_out
from volunteer_hub.services.messaging.responses import household_cancel
from volunteer_hub.sms.text import GSM7

GUARDIAN = "+84905123456"


def _day(visit: Visit) -> date:
    return visit.starts_at.astimezone(TZ).date()


def _guardian_messages(session, *, after: int = 0) -> list[Message]:  # type: ignore[no-untyped-def]
    return list(
        session.scalars(
            select(Message)
            .where(Message.kind.in_(GUARDIAN_KINDS), Message.id > after)
            .order_by(Message.id)
        )
    )


def _last_id(session) -> int:  # type: ignore[no-untyped-def]
    return session.scalar(select(func.max(Message.id))) or 0


@pytest.fixture
def minor_world(session):  # type: ignore[no-untyped-def]
    """The small Saturday drive, its second volunteer 16 with a guardian who agreed."""
    world = factories.drive_world(session, households=8)
    minor = world.volunteers[1]
    day = world.drive.blocks[0].starts_at.date()
    for volunteer, name in zip(
        world.volunteers,
        ("Nguyễn Thị Lan", "Lê Minh Khôi", "Trần Quốc Huy", "Phạm Thu Hà"),
        strict=True,
    ):
        volunteer.full_name = name
    minor.date_of_birth = day.replace(year=day.year - 16) - timedelta(days=30)
    minor.guardian_name = "Lê Văn Hùng"
    minor.guardian_phone = GUARDIAN
    minor.guardian_consent_at = utcnow()
    hamlet = factories.hamlet(session, world.commune, "Thôn Vỹ Dạ")
    for request in world.requests:
        request.hamlet = hamlet
        request.house = "12 kiệt 5 Lê Lợi"
        request.landmark = "cổng xanh"
    session.commit()
    world.minor = minor
    return world


def _minor_visits(plan: Plan, minor) -> list[Visit]:  # type: ignore[no-untyped-def]
    return sorted(
        (v for v in plan.visits if v.team and minor in v.team.members),
        key=lambda v: v.starts_at,
    )


def _published(session, world) -> Plan:  # type: ignore[no-untyped-def]
    plan = solve(session, world.drive)
    publishing.publish_plan(session, plan, user=world.coordinator)
    session.commit()
    assert _minor_visits(plan, world.minor), "the planner gave the minor no visit"
    return plan


def _copy(session, world, plan: Plan) -> Plan:  # type: ignore[no-untyped-def]
    copy = planning.copy_plan(session, plan, user=world.coordinator)
    session.commit()
    return copy


def test_the_guardian_gets_one_sms_for_the_minor_s_day_on_publish(session, minor_world):
    plan = solve(session, minor_world.drive)
    preview = publishing.preview_publish(session, plan, user=minor_world.coordinator)
    session.rollback()
    assert _guardian_messages(session) == []  # looking is not sending
    report = publishing.publish_plan(session, plan, user=minor_world.coordinator)
    session.commit()

    visits = _minor_visits(plan, minor_world.minor)
    (message,) = _guardian_messages(session)  # one for the day, however many visits
    assert message.kind == "guardian_assignment" and message.to_phone == GUARDIAN
    assert message.status is MessageStatus.QUEUED
    assert message.volunteer_id == minor_world.minor.id
    assert message.drive_id == minor_world.drive.id
    body = message.body
    partner = next(m for m in visits[0].team.members if m.id != minor_world.minor.id)
    assert "Khoi" in body  # who (the drive sends without tone marks)
    assert visits[0].starts_at.astimezone(TZ).strftime("%d/%m") in body  # which day
    assert visits[0].starts_at.astimezone(TZ).strftime("%H:%M") in body  # from when
    assert "Thon Vy Da" in body and "Phuong Thuan Hoa" in body  # roughly where
    assert partner.first_name in body  # with whom: the first name only
    assert partner.full_name not in body
    # Nothing of the households: no name, house, landmark or phone.
    for visit in visits:
        assert visit.request.beneficiary_name not in body
        assert "Le Loi" not in body and "cong xanh" not in body
        assert visit.request.phone not in body and "http" not in body
    assert message.encoding == GSM7 and message.segments == 1
    # Counted in what publishing says, and in the preview asked before.
    assert preview.kinds.get("guardian_assignment") == 1
    assert (
        preview.messages
        == report.messages
        == session.scalar(
            select(func.count()).select_from(Message).where(Message.status == MessageStatus.QUEUED)
        )
    )
    assert GUARDIAN in {m.to_phone for m in session.scalars(select(Message))}
    assert preview.people == len({m.to_phone for m in session.scalars(select(Message))})


def test_republishing_an_unchanged_assignment_sends_the_guardian_nothing(session, minor_world):
    plan = _published(session, minor_world)
    last = _last_id(session)
    again = _copy(session, minor_world, plan)
    preview = publishing.preview_publish(session, again, user=minor_world.coordinator)
    session.rollback()
    publishing.publish_plan(session, again, user=minor_world.coordinator)
    session.commit()
    assert _guardian_messages(session, after=last) == []
    assert "guardian_assignment" not in preview.kinds
    assert len(_guardian_messages(session)) == 1


def test_a_change_tells_the_guardian_and_a_day_called_off_says_so(session, minor_world):
    plan = _published(session, minor_world)
    (first,) = _guardian_messages(session)
    first.status = MessageStatus.SENT  # the guardian has it
    session.commit()
    visits = _minor_visits(plan, minor_world.minor)

    # One visit less that day: the guardian hears the day changed, once.
    changed = _copy(session, minor_world, plan)
    plan_review.move_visit(
        session,
        changed,
        visits[-1].request.reference,
        team_code=None,
        user=minor_world.coordinator,
    )
    session.commit()
    last = _last_id(session)
    publishing.publish_plan(session, changed, user=minor_world.coordinator)
    session.commit()
    kept = len(visits) - 1
    news = _guardian_messages(session, after=last)
    if kept:
        (change,) = news
        assert change.kind == "guardian_change" and "Khoi" in change.body
    else:
        (change,) = news
        assert change.kind == "guardian_cancellation"
    change.status = MessageStatus.SENT
    session.commit()

    # None left that day: the guardian hears it is off.
    off = _copy(session, minor_world, changed)
    for visit in _minor_visits(changed, minor_world.minor):
        plan_review.move_visit(
            session, off, visit.request.reference, team_code=None, user=minor_world.coordinator
        )
        session.commit()
    last = _last_id(session)
    publishing.publish_plan(session, off, user=minor_world.coordinator)
    session.commit()
    news = _guardian_messages(session, after=last)
    if kept:
        (cancelled,) = news
        assert cancelled.kind == "guardian_cancellation"
        assert "Khoi" in cancelled.body and _day(visits[0]).strftime("%d/%m") in cancelled.body
    else:
        assert news == []  # already told it was off


def test_news_still_waiting_is_replaced_not_doubled(session, minor_world):
    plan = _published(session, minor_world)
    (waiting,) = _guardian_messages(session)  # still queued (quiet hours, say)
    visits = _minor_visits(plan, minor_world.minor)
    revised = _copy(session, minor_world, plan)
    plan_review.move_visit(
        session, revised, visits[0].request.reference, team_code=None, user=minor_world.coordinator
    )
    session.commit()
    publishing.publish_plan(session, revised, user=minor_world.coordinator)
    session.commit()
    session.refresh(waiting)
    assert waiting.status is MessageStatus.CANCELLED and waiting.error_code == "replaced"
    queued = [m for m in _guardian_messages(session) if m.status is MessageStatus.QUEUED]
    if len(visits) > 1:
        # They never got the first: the newest is still an assignment, not a "change".
        (newest,) = queued
        assert newest.kind == "guardian_assignment"
    else:
        assert queued == []  # never told, so no cancellation either


def test_a_household_cancelling_tells_the_guardian_too(session, minor_world):
    plan = _published(session, minor_world)
    (first,) = _guardian_messages(session)
    first.status = MessageStatus.DELIVERED
    session.commit()
    visits = _minor_visits(plan, minor_world.minor)
    last = _last_id(session)
    household_cancel(session, visits[0], "Bà đi viện")
    session.commit()
    (news,) = _guardian_messages(session, after=last)
    assert news.kind == ("guardian_change" if len(visits) > 1 else "guardian_cancellation")


def test_an_opted_out_guardian_gets_nothing_and_the_preview_does_not_count_it(session, minor_world):
    opt_out(session, GUARDIAN, source="coordinator")
    session.commit()
    plan = solve(session, minor_world.drive)
    preview = publishing.preview_publish(session, plan, user=minor_world.coordinator)
    session.rollback()
    publishing.publish_plan(session, plan, user=minor_world.coordinator)
    session.commit()
    (row,) = _guardian_messages(session)
    assert row.status is MessageStatus.CANCELLED and row.error_code == "opted_out"
    assert "guardian_assignment" not in preview.kinds


@pytest.mark.parametrize(
    "change",
    ["adult", "no_consent", "landline", "own_number"],
)
def test_no_guardian_sms_without_a_minor_a_consent_or_a_mobile(session, minor_world, change):
    minor = minor_world.minor
    if change == "adult":
        minor.date_of_birth = minor.date_of_birth.replace(year=minor.date_of_birth.year - 5)
    elif change == "no_consent":
        minor.guardian_consent_at = None
    elif change == "landline":
        minor.guardian_phone = "+842343822456"
    else:
        minor.guardian_phone = minor.phone
    session.commit()
    _published(session, minor_world)
    assert _guardian_messages(session) == []


def test_the_guardian_kinds_have_labels_and_default_texts_in_both_languages(app):
    from volunteer_hub.labels import label
    from volunteer_hub.services.messaging.templates import DEFAULTS, KINDS, template_errors

    with app.test_request_context():
        for kind in GUARDIAN_KINDS:
            assert kind in KINDS
            assert str(label("sms_kind", kind)) != kind
            for locale in ("vi", "en"):
                assert template_errors(kind, DEFAULTS[kind][locale]) == []


def test_the_publish_page_counts_the_guardian_sms_before_anything_is_sent(
    client, session, minor_world
):
    plan = solve(session, minor_world.drive)
    login(client, minor_world.coordinator.email)
    page = client.get(f"/plans/{plan.id}/publish")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Người giám hộ: lịch trong ngày của em dưới 18 tuổi" in text
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Message)) == 0
    report = publishing.publish_plan(session, plan, user=minor_world.coordinator)
    session.commit()
    people = len({m.to_phone for m in session.scalars(select(Message))})
    assert f"{report.messages} tin nhắn SMS tới {people} người" in text
