"""Reminders: the evening before and 2 hours before for volunteers; the day before and that
morning for households; only for published plans, each once."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from tests.fakes import FixedClock
from tests.volunteer_hub.sms.conftest import vn
from volunteer_hub.models import Message, PersonalLink, VisitStatus
from volunteer_hub.services.messaging import links
from volunteer_hub.services.messaging.reminders import plan_reminders


def reminder_rows(session) -> list[Message]:  # type: ignore[no-untyped-def]
    return list(
        session.scalars(
            select(Message)
            .where(Message.kind.like("reminder%"))
            .order_by(Message.send_after, Message.id)
        )
    )


def run_day(session, settings, start, end, step_min: int = 10):  # type: ignore[no-untyped-def]
    """Run the planner like the worker would, every ``step_min`` minutes."""
    clock = FixedClock(start)
    while clock() <= end:
        plan_reminders(session, now=clock(), settings=settings)
        session.commit()
        clock.advance(minutes=step_min)


def test_the_reminders_come_at_their_times_once_each(session, published, settings):
    run_day(session, settings, vn(2026, 11, 26, 10), vn(2026, 11, 28, 9))
    sent = reminder_rows(session)
    by_kind = {}
    for message in sent:
        by_kind.setdefault(message.kind, []).append(message)
    assert sorted(by_kind) == [
        "reminder_household_day",
        "reminder_household_morning",
        "reminder_volunteer_eve",
        "reminder_volunteer_soon",
    ]
    (day,) = by_kind["reminder_household_day"]
    (morning,) = by_kind["reminder_household_morning"]
    assert day.send_after == vn(2026, 11, 27, 17)
    assert morning.send_after == vn(2026, 11, 28, 7)
    assert {m.send_after for m in by_kind["reminder_volunteer_eve"]} == {vn(2026, 11, 27, 19)}
    assert {m.send_after for m in by_kind["reminder_volunteer_soon"]} == {vn(2026, 11, 28, 6)}
    assert {m.to_phone for m in by_kind["reminder_volunteer_eve"]} == {
        published.lan.phone,
        published.huy.phone,
    }
    assert "1 luot ho tro" in by_kind["reminder_volunteer_eve"][0].body
    assert all("/s/" in m.body for m in sent)


def test_reminders_are_queued_shortly_before_they_are_due(session, published, settings):
    plan_reminders(session, now=vn(2026, 11, 26, 10), settings=settings)
    assert reminder_rows(session) == []
    plan_reminders(session, now=vn(2026, 11, 27, 16, 5), settings=settings)
    assert [m.kind for m in reminder_rows(session)] == ["reminder_household_day"]


def test_a_plan_published_after_a_reminders_time_skips_it(session, world, settings):
    from tests.volunteer_hub.sms.conftest import publish_visit

    publish_visit(session, world.a, published_at=vn(2026, 11, 27, 20))
    world.b.plan.published_at = None
    session.commit()
    run_day(session, settings, vn(2026, 11, 27, 20), vn(2026, 11, 28, 9))
    kinds = sorted({m.kind for m in reminder_rows(session)})
    assert kinds == ["reminder_household_morning", "reminder_volunteer_soon"]


def test_unpublished_declined_or_cancelled_visits_get_no_reminders(session, published, settings):
    published.plan.published_at = None
    session.commit()
    run_day(session, settings, vn(2026, 11, 27, 16), vn(2026, 11, 28, 9), step_min=30)
    assert reminder_rows(session) == []

    published.plan.published_at = vn(2026, 11, 25, 9)
    for status in (VisitStatus.DECLINED, VisitStatus.CANCELLED):
        published.visit.status = status
        session.commit()
        run_day(session, settings, vn(2026, 11, 27, 16), vn(2026, 11, 28, 9), step_min=30)
        assert reminder_rows(session) == []


def test_only_the_newest_published_version_is_reminded(session, published, settings, world):
    from volunteer_hub.models import Plan, PlanStatus

    newer = Plan(
        drive=published.drive, version=2, status=PlanStatus.DONE, published_at=vn(2026, 11, 26, 9)
    )
    session.add(newer)
    session.commit()
    run_day(session, settings, vn(2026, 11, 27, 16), vn(2026, 11, 28, 9), step_min=30)
    assert reminder_rows(session) == []  # the visit belongs to version 1


def test_households_without_a_mobile_get_no_reminder(session, published, settings):
    published.visit.request.phone = None
    session.commit()
    run_day(session, settings, vn(2026, 11, 27, 16), vn(2026, 11, 28, 9), step_min=30)
    assert {m.kind for m in reminder_rows(session)} == {
        "reminder_volunteer_eve",
        "reminder_volunteer_soon",
    }


def test_thanks_follow_the_visit_with_the_outcome_and_feedback_links(session, published, settings):
    # The visit runs 08:00-08:45 on Saturday 28/11; thanks go from 09:15.
    run_day(session, settings, vn(2026, 11, 28, 8), vn(2026, 11, 28, 12), step_min=15)
    thanks = session.scalars(select(Message).where(Message.kind.like("thanks%"))).all()
    assert sorted(m.kind for m in thanks) == [
        "thanks_household",
        "thanks_volunteer",
        "thanks_volunteer",
    ]
    assert {m.send_after for m in thanks} == {vn(2026, 11, 28, 9, 15)}
    assert all("/s/" in m.body for m in thanks)


def test_no_thanks_for_a_cancelled_visit_or_long_after(session, published, settings):
    run_day(session, settings, vn(2026, 11, 29, 9), vn(2026, 11, 29, 12), step_min=30)
    published.visit.status = VisitStatus.CANCELLED
    session.commit()
    run_day(session, settings, vn(2026, 11, 28, 9), vn(2026, 11, 28, 12), step_min=30)
    assert session.scalars(select(Message).where(Message.kind.like("thanks%"))).all() == []


def test_the_evening_reminder_carries_the_day_link(session, published, settings):
    run_day(session, settings, vn(2026, 11, 27, 18), vn(2026, 11, 27, 20))
    eve = [m for m in reminder_rows(session) if m.kind == "reminder_volunteer_eve"]
    assert len(eve) == 2
    day_links = session.scalars(
        select(PersonalLink).where(PersonalLink.purpose == links.VOLUNTEER_DAY)
    ).all()
    # One day link each, issued with the reminder (none for runs that queued nothing).
    assert sorted((link.volunteer_id, link.day) for link in day_links) == sorted(
        [(published.lan.id, date(2026, 11, 28)), (published.huy.id, date(2026, 11, 28))]
    )
    assert all(link.visit_id is None for link in day_links)
