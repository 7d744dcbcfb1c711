"""A volunteer hears of a drive day in one SMS, with one link to all its visits (issue 14,
item 4): one message per person per day, a "changed" one only when her day changed, a
cancellation when nothing is left of it, and the publish preview counts them as sent."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from tests import factories
from tests.conftest import login
from tests.volunteer_hub.test_replanning import TZ, solve
from volunteer_hub.models import (
    Message,
    MessageStatus,
    PersonalLink,
    Plan,
    TimeBlock,
    Visit,
    VisitStatus,
    utcnow,
)
from volunteer_hub.services.drives import plan_review, planning, publishing
from volunteer_hub.services.messaging import links
from volunteer_hub.services.messaging.notifications import DAY_KINDS, parse_day_key
from volunteer_hub.services.messaging.sealing import unseal
from volunteer_hub.services.messaging.settings import sms_settings
from volunteer_hub.sms.text import unaccent

NAMES = (
    "Hoàng Thị Hoa",
    "Nguyễn Văn Bảy",
    "Trần Thị Cúc",
    "Lê Văn Dũng",
    "Phạm Thị Én",
    "Võ Văn Giàu",
    "Đặng Thị Hạnh",
    "Bùi Văn Khánh",
)


@pytest.fixture
def dw(session):  # type: ignore[no-untyped-def]
    world = factories.drive_world(session, households=8)
    hamlet = factories.hamlet(session, world.commune, "Tổ dân phố 3")
    for index, (request, name) in enumerate(zip(world.requests, NAMES, strict=True)):
        request.beneficiary_name = name
        request.house = f"{index + 12} kiệt {index + 3} Lê Lợi"
        request.hamlet = hamlet
    session.commit()
    return world


def _day(visit: Visit) -> date:
    return visit.starts_at.astimezone(TZ).date()


def _last_id(session) -> int:  # type: ignore[no-untyped-def]
    return session.scalar(select(func.max(Message.id))) or 0


def _day_messages(session, *, after: int = 0) -> list[Message]:  # type: ignore[no-untyped-def]
    return list(
        session.scalars(
            select(Message)
            .where(Message.kind.in_(DAY_KINDS), Message.id > after)
            .order_by(Message.id)
        )
    )


def _visits_of(plan: Plan, volunteer) -> list[Visit]:  # type: ignore[no-untyped-def]
    return sorted(
        (v for v in plan.visits if v.team and volunteer in v.team.members),
        key=lambda v: v.starts_at,
    )


def _code(message: Message) -> str:
    """The code of the personal link in the real text (the stored body masks it)."""
    text = unseal(message.sealed_body, sms_settings().sealing_keys)
    found = re.search(r"/s/([A-Za-z0-9]{10})\b", text or "")
    assert found, text
    return found.group(1)


def _published(session, dw) -> Plan:  # type: ignore[no-untyped-def]
    plan = solve(session, dw.drive)
    publishing.publish_plan(session, plan, user=dw.coordinator)
    session.commit()
    return plan


def _busiest(plan: Plan, dw):  # type: ignore[no-untyped-def]
    volunteer = max(dw.volunteers, key=lambda m: len(_visits_of(plan, m)))
    assert len(_visits_of(plan, volunteer)) >= 3, "the planner gave nobody three visits"
    return volunteer


def _shift(visit: Visit, delta: timedelta) -> None:
    visit.starts_at += delta
    visit.arrival_at += delta
    visit.ends_at += delta


def test_three_visits_one_day_one_sms_whose_link_lists_and_answers_them_all(client, session, dw):  # type: ignore[no-untyped-def]
    plan = _published(session, dw)
    her = _busiest(plan, dw)
    hers = _visits_of(plan, her)
    messages = _day_messages(session)
    # One SMS per volunteer of the drive's one day, none per visit.
    members = {m.id for v in plan.visits if v.team for m in v.team.members}
    assert sorted(m.volunteer_id for m in messages) == sorted(members)
    assert {m.kind for m in messages} == {"day_assignment"}
    assert not session.scalar(
        select(func.count()).select_from(Message).where(Message.kind == "assignment")
    )
    (sms,) = [m for m in messages if m.volunteer_id == her.id]
    assert sms.visit_id is None and sms.request_id is None and sms.drive_id == dw.drive.id
    assert parse_day_key(sms.idempotency_key) == (dw.drive.id, her.id, _day(hers[0]), 1)
    # Short and unaccented (the drive's default): the day, how many, the first one, the link.
    first = hers[0].starts_at.astimezone(TZ).strftime("%H:%M")
    place = unaccent(f"{hers[0].request.house}, Tổ dân phố 3")
    assert f"co {len(hers)} luot ho tro, luot dau {first} tai {place}." in sms.body
    assert sms.encoding == "GSM-7" and sms.segments == 1, sms.body
    day_links = session.scalars(
        select(PersonalLink).where(
            PersonalLink.purpose == links.VOLUNTEER_DAY, PersonalLink.volunteer_id == her.id
        )
    ).all()
    assert [(link.day, link.visit_id) for link in day_links] == [(_day(hers[0]), None)]

    # Her link opens the day: her visits, in order, with the household's first name.
    code = _code(sms)
    page = client.get(f"/s/{code}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "no-store" in page.headers["Cache-Control"]
    shown = [int(n) for n in re.findall(r'id="visit-(\d+)"', text)]
    assert shown == [v.id for v in hers]
    for visit in hers:
        assert visit.request.beneficiary_name.split()[-1] in text
        assert visit.starts_at.astimezone(TZ).strftime("%H:%M") in text
    others = [v for v in plan.visits if v.team and her not in v.team.members]
    assert all(f'id="visit-{v.id}"' not in text for v in others)
    assert all(v.request.house not in text for v in others)
    assert all(v.request.house in text for v in hers)

    # She answers each visit from that one page.
    accepted = client.post(f"/s/{code}", data={"action": "accept", "visit": str(hers[1].id)})
    assert accepted.status_code == 302 and accepted.location.endswith(f"#visit-{hers[1].id}")
    declined = client.post(
        f"/s/{code}",
        data={
            "action": "decline",
            "visit": str(hers[2].id),
            "note": "Em bận thi",
            "scope": "visit",
        },
    )
    assert declined.status_code == 302
    session.expire_all()
    assert session.get(Visit, hers[1].id).volunteer_accepted_at is not None
    assert session.get(Visit, hers[2].id).status is VisitStatus.DECLINED
    # "Only this visit": the others stay hers.
    assert session.get(Visit, hers[0].id).status is VisitStatus.SCHEDULED
    again = client.get(f"/s/{code}").get_data(as_text=True)
    cards = dict(re.findall(r'id="visit-(\d+)">(.*?)</section>', again, re.S))
    assert "Bạn đã nhận lượt hỗ trợ này" in cards[str(hers[1].id)]
    assert "Bạn đã báo không đi được" in cards[str(hers[2].id)]
    assert 'value="accept"' in cards[str(hers[0].id)]
    # The declined visit no longer shows the household's phone or address.
    assert hers[2].request.phone not in cards[str(hers[2].id)]
    # Another team's visit, or no visit at all, is refused with a message; nothing changes.
    for wrong in (str(others[0].id), "abc", "", "99999999999"):
        refused = client.post(f"/s/{code}", data={"action": "accept", "visit": wrong})
        assert refused.status_code == 400
    session.expire_all()
    assert session.get(Visit, others[0].id).volunteer_accepted_at is None


def test_a_decline_from_the_day_page_can_mean_the_whole_day(client, session, dw):  # type: ignore[no-untyped-def]
    plan = _published(session, dw)
    her = _busiest(plan, dw)
    hers = _visits_of(plan, her)
    (sms,) = [m for m in _day_messages(session) if m.volunteer_id == her.id]
    code = _code(sms)
    # A reason is required, as on a visit's own link: nothing is recorded without one.
    empty = client.post(
        f"/s/{code}",
        data={"action": "decline", "visit": str(hers[0].id), "note": " ", "scope": "day"},
    )
    assert empty.status_code == 422
    session.expire_all()
    assert all(session.get(Visit, v.id).status is VisitStatus.SCHEDULED for v in hers)
    answer = client.post(
        f"/s/{code}",
        data={"action": "decline", "visit": str(hers[0].id), "note": "Em bị sốt", "scope": "day"},
    )
    assert answer.status_code == 302
    session.expire_all()
    assert all(session.get(Visit, v.id).status is VisitStatus.DECLINED for v in hers)
    assert session.get(type(her), her.id).is_away_on(_day(hers[0]))
    # Her page now says, for each, that the coordinator is finding someone else; her
    # partner's, that she cannot go (not that he declined).
    text = client.get(f"/s/{code}").get_data(as_text=True)
    assert text.count("Bạn đã báo không đi được") == len(hers)
    assert 'value="accept"' not in text
    partner = next(m for m in hers[0].team.members if m.id != her.id)
    (theirs,) = [m for m in _day_messages(session) if m.volunteer_id == partner.id]
    text = client.get(f"/s/{_code(theirs)}").get_data(as_text=True)
    assert "Bạn đã báo không đi được" not in text
    assert text.count("Bạn đi cùng không đi được") == len(hers)


def test_two_days_two_sms_each_with_its_own_link(client, session, dw):  # type: ignore[no-untyped-def]
    plan = solve(session, dw.drive)
    saturday = dw.drive.blocks[0]
    dw.drive.blocks.append(
        TimeBlock(
            starts_at=saturday.starts_at + timedelta(days=1),
            ends_at=saturday.ends_at + timedelta(days=1),
        )
    )
    her = _busiest(plan, dw)
    moved = _visits_of(plan, her)[-1]
    _shift(moved, timedelta(days=1))  # her last visit is on Sunday
    session.commit()
    publishing.publish_plan(session, plan, user=dw.coordinator)
    session.commit()
    messages = _day_messages(session)
    for member in moved.team.members:
        mine = [m for m in messages if m.volunteer_id == member.id]
        assert len(mine) == 2
        assert len({m.idempotency_key for m in mine}) == 2
    (sunday,) = [
        m
        for m in messages
        if m.volunteer_id == her.id and parse_day_key(m.idempotency_key)[2] == _day(moved)
    ]
    text = client.get(f"/s/{_code(sunday)}").get_data(as_text=True)
    assert re.findall(r'id="visit-(\d+)"', text) == [str(moved.id)]
    assert "co 1 luot" in sunday.body
    # Each day link lasts the drive's rule counted from its own day's end.
    valid = timedelta(days=sms_settings().link_valid_days)
    expiry = {
        link.day: link.expires_at
        for link in session.scalars(
            select(PersonalLink).where(
                PersonalLink.purpose == links.VOLUNTEER_DAY, PersonalLink.volunteer_id == her.id
            )
        )
    }
    assert expiry == {
        _day(moved) - timedelta(days=1): saturday.ends_at + valid,
        _day(moved): saturday.ends_at + timedelta(days=1) + valid,
    }


def _revised(session, dw, plan: Plan) -> Plan:  # type: ignore[no-untyped-def]
    revised = planning.copy_plan(session, plan, user=dw.coordinator)
    session.commit()
    return revised


def _publish_with_preview(session, dw, plan: Plan):  # type: ignore[no-untyped-def]
    """Preview, roll back, publish: return the preview and what was queued."""
    last = _last_id(session)
    preview = publishing.preview_publish(session, plan, user=dw.coordinator)
    session.rollback()
    report = publishing.publish_plan(session, plan, user=dw.coordinator)
    session.commit()
    queued = session.scalars(
        select(Message).where(Message.id > last, Message.status == MessageStatus.QUEUED)
    ).all()
    assert preview.messages == len(queued) == report.messages
    assert preview.people == len({m.to_phone for m in queued})
    kinds: dict[str, int] = {}
    for message in queued:
        kinds[message.kind] = kinds.get(message.kind, 0) + 1
    assert preview.kinds == dict(sorted(kinds.items()))
    return preview, queued


def test_one_visit_moved_one_changed_sms_per_member_and_the_preview_says_so(session, dw):  # type: ignore[no-untyped-def]
    plan = solve(session, dw.drive)
    preview, first = _publish_with_preview(session, dw, plan)
    assert preview.kinds["day_assignment"] == len(dw.volunteers)
    for message in first:  # they were told
        message.status = MessageStatus.SENT
    session.commit()
    her = _busiest(plan, dw)
    revised = _revised(session, dw, plan)
    moved = _visits_of(revised, her)[-1]
    _shift(moved, timedelta(minutes=30))
    session.commit()
    preview, queued = _publish_with_preview(session, dw, revised)
    assert preview.report.changed == 1
    days = [(m.kind, m.volunteer_id) for m in queued if m.kind in DAY_KINDS]
    assert sorted(days) == sorted(("day_change", m.id) for m in moved.team.members)
    assert {m.kind for m in queued} == {"day_change", "change_household"}
    # Her link of the first SMS still opens her day, now with the new time.
    (old_sms,) = [m for m in first if m.kind == "day_assignment" and m.volunteer_id == her.id]
    link = links.find_link(session, _code(old_sms))
    assert link is not None
    assert moved.id in [v.id for v in links.day_visits(session, link)]


def test_all_her_visits_of_the_day_gone_one_cancellation(client, session, dw):  # type: ignore[no-untyped-def]
    plan = _published(session, dw)
    for message in _day_messages(session):
        message.status = MessageStatus.DELIVERED
    session.commit()
    her = _busiest(plan, dw)
    team = _visits_of(plan, her)[0].team
    (old_sms,) = [m for m in _day_messages(session) if m.volunteer_id == her.id]
    revised = _revised(session, dw, plan)
    for visit in [v for v in revised.visits if v.team and v.team.code == team.code]:
        plan_review.move_visit(
            session, revised, visit.request.reference, team_code=None, user=dw.coordinator
        )
    session.commit()
    preview, queued = _publish_with_preview(session, dw, revised)
    days = sorted((m.kind, m.volunteer_id) for m in queued if m.kind in DAY_KINDS)
    assert days == sorted(("day_cancellation", m.id) for m in team.members)
    cancelled = [m for m in queued if m.kind == "day_cancellation"][0]
    assert "/s/" not in cancelled.body
    assert preview.kinds["day_cancellation"] == len(team.members)
    # Her day link shows that nothing is left; the hourly job then revokes it (and no other).
    page = client.get(f"/s/{_code(old_sms)}")
    assert page.status_code == 200 and 'id="visit-' not in page.get_data(as_text=True)
    sweep = links.expire_links(session)
    session.commit()
    assert sweep.revoked >= len(team.members)
    assert client.get(f"/s/{_code(old_sms)}").status_code == 404
    live = session.scalars(
        select(PersonalLink).where(
            PersonalLink.purpose == links.VOLUNTEER_DAY, PersonalLink.revoked_at.is_(None)
        )
    ).all()
    assert {link.volunteer_id for link in live} == {
        m.id for m in dw.volunteers if m not in team.members
    }


def test_a_day_sms_still_waiting_is_replaced_not_followed_by_a_change(session, dw):  # type: ignore[no-untyped-def]
    plan = _published(session, dw)  # quiet hours: nothing sent yet
    her = _busiest(plan, dw)
    (waiting,) = [m for m in _day_messages(session) if m.volunteer_id == her.id]
    revised = _revised(session, dw, plan)
    _shift(_visits_of(revised, her)[-1], timedelta(minutes=30))
    session.commit()
    publishing.publish_plan(session, revised, user=dw.coordinator)
    session.commit()
    session.refresh(waiting)
    assert waiting.status is MessageStatus.CANCELLED and waiting.error_code == "replaced"
    (newest,) = [m for m in _day_messages(session, after=waiting.id) if m.volunteer_id == her.id]
    assert newest.kind == "day_assignment"  # she never heard of the day: it is news, no change


def test_publishing_the_same_day_again_sends_nothing_to_those_whose_day_did_not_change(session, dw):  # type: ignore[no-untyped-def]
    plan = _published(session, dw)
    revised = _revised(session, dw, plan)
    last = _last_id(session)
    report = publishing.publish_plan(session, revised, user=dw.coordinator)
    session.commit()
    assert report.unchanged == len([v for v in revised.visits if v.team])
    assert _day_messages(session, after=last) == []


def test_households_listed_only_in_a_day_sms_count_as_told(session, dw):  # type: ignore[no-untyped-def]
    silent = dw.requests[0]
    silent.phone = None
    silent.reach_note = "Nhờ trưởng thôn báo"
    session.commit()
    plan = _published(session, dw)
    assert any(v.request_id == silent.id and v.team for v in plan.visits)
    assert silent.reference in planning.told_references(session, dw.drive)


def test_the_publish_page_counts_the_day_sms(client, session, dw):  # type: ignore[no-untyped-def]
    plan = solve(session, dw.drive)
    login(client, dw.coordinator.email)
    text = client.get(f"/plans/{plan.id}/publish").get_data(as_text=True)
    households = len([v for v in plan.visits if v.team])
    n = households + len(dw.volunteers)
    # Households: one SMS per visit; volunteers: one per day (here, one day each).
    summary = re.search(r'id="publish-summary">(.*?)</p>', text, re.S).group(1)
    assert summary.startswith(f"{n} tin nhắn SMS tới {n} người về {households} lượt thăm mới")
    rows = dict(re.findall(r'<tr><td>([^<]+)</td><td class="num">(\d+)</td></tr>', text))
    assert rows["Tình nguyện viên: các lượt hỗ trợ trong ngày"] == str(len(dw.volunteers))
    session.expire_all()
    assert session.get(Plan, plan.id).published_at is None


def test_from_the_day_link_she_reports_a_visit_once_it_started(client, session, dw):  # type: ignore[no-untyped-def]
    plan = _published(session, dw)
    her = _busiest(plan, dw)
    hers = _visits_of(plan, her)
    (sms,) = [m for m in _day_messages(session) if m.volunteer_id == her.id]
    code = _code(sms)
    not_yet = client.get(f"/s/{code}/report?visit={hers[0].id}")
    assert not_yet.status_code == 200 and 'name="outcome' not in not_yet.get_data(as_text=True)
    # The day has come: her first visit started an hour ago.
    started = hers[0]
    _shift(started, utcnow() - timedelta(hours=1) - started.starts_at)
    link = links.find_link(session, code)
    link.day = _day(started)
    session.commit()
    page = client.get(f"/s/{code}")
    assert f"/s/{code}/report?visit={started.id}" in page.get_data(as_text=True)
    form = client.get(f"/s/{code}/report?visit={started.id}")
    assert form.status_code == 200 and "<form" in form.get_data(as_text=True)
    # Only one of her visits of that day: none, another's or nonsense is not found.
    other = next(v for v in plan.visits if v.team and her not in v.team.members)
    for wrong in ("", str(other.id), "x1"):
        assert client.get(f"/s/{code}/report?visit={wrong}").status_code == 404


# --- reminders, thanks and a household's answer on a volunteer's day -----------------------


def _run_worker(session, start, end, step_min: int = 10) -> None:  # type: ignore[no-untyped-def]
    """Plan reminders and thanks as the worker does, every ``step_min`` minutes."""
    from volunteer_hub.services.messaging.reminders import plan_reminders

    moment = start
    while moment <= end:
        plan_reminders(session, now=moment)
        session.commit()
        moment += timedelta(minutes=step_min)


def _of_kind(session, kind: str, volunteer) -> list[Message]:  # type: ignore[no-untyped-def]
    return list(
        session.scalars(
            select(Message)
            .where(Message.kind == kind, Message.volunteer_id == volunteer.id)
            .order_by(Message.id)
        )
    )


def _opens_her_day(client, session, message: Message, visits: list[Visit]) -> str:  # type: ignore[no-untyped-def]
    """The message's link is her day link: its page lists exactly these visits."""
    code = _code(message)
    link = links.find_link(session, code)
    assert link.purpose == links.VOLUNTEER_DAY and link.visit_id is None
    page = client.get(f"/s/{code}")
    assert page.status_code == 200
    shown = [int(n) for n in re.findall(r'id="visit-(\d+)"', page.get_data(as_text=True))]
    assert shown == [v.id for v in visits]
    return code


def test_after_her_three_visits_one_thanks_whose_link_opens_the_day(client, session, dw):  # type: ignore[no-untyped-def]
    plan = _published(session, dw)
    her = _busiest(plan, dw)
    hers = _visits_of(plan, her)
    last_end = max(v.ends_at for v in hers)
    # Half an hour after her first visit ended, her day is not over: no thanks yet.
    _run_worker(session, hers[0].ends_at, last_end + timedelta(minutes=20))
    assert _of_kind(session, "thanks_volunteer", her) == []
    # Half an hour after the last one: one SMS, whatever the runs that follow.
    _run_worker(session, last_end + timedelta(minutes=30), last_end + timedelta(hours=3), 15)
    (thanks,) = _of_kind(session, "thanks_volunteer", her)
    assert thanks.send_after == last_end + timedelta(minutes=30)
    assert thanks.idempotency_key == (
        f"drive:{dw.drive.id}:vol{her.id}:{_day(hers[0]).isoformat()}:thanks"
    )
    assert thanks.visit_id is None and thanks.segments == 1, thanks.body
    code = _opens_her_day(client, session, thanks, hers)
    # From there she reports each visit (the report page of each of her visits opens).
    for visit in hers:
        assert client.get(f"/s/{code}/report?visit={visit.id}").status_code == 200
    # Every volunteer of the drive: one thanks for the day; households: one per visit.
    going = {m.id for v in plan.visits if v.team for m in v.team.members}
    volunteers = session.scalars(select(Message).where(Message.kind == "thanks_volunteer")).all()
    assert sorted(m.volunteer_id for m in volunteers) == sorted(going)
    households = session.scalars(select(Message).where(Message.kind == "thanks_household")).all()
    assert sorted(m.visit_id for m in households) == sorted(v.id for v in plan.visits if v.team)
    # Runs hours later thank nobody again.
    _run_worker(session, last_end + timedelta(hours=4), last_end + timedelta(hours=5), 30)
    assert len(_of_kind(session, "thanks_volunteer", her)) == 1


def test_two_hours_before_her_first_visit_one_reminder_with_the_day_link(client, session, dw):  # type: ignore[no-untyped-def]
    plan = _published(session, dw)
    her = _busiest(plan, dw)
    hers = _visits_of(plan, her)
    _run_worker(session, hers[0].starts_at - timedelta(hours=4), hers[-1].starts_at)
    (soon,) = _of_kind(session, "reminder_volunteer_soon", her)
    assert soon.send_after == hers[0].starts_at - timedelta(hours=2)
    assert soon.visit_id == hers[0].id  # cancelling that visit cancels it (below)
    assert hers[0].starts_at.astimezone(TZ).strftime("%H:%M") in soon.body
    _opens_her_day(client, session, soon, hers)
    # One per volunteer of the day, not one per visit or shift.
    going = {m.id for v in plan.visits if v.team for m in v.team.members}
    reminders = session.scalars(
        select(Message).where(Message.kind == "reminder_volunteer_soon")
    ).all()
    assert sorted(m.volunteer_id for m in reminders) == sorted(going)
    # Households keep their own reminder per visit, with their own link.
    mornings = session.scalars(
        select(Message).where(Message.kind == "reminder_household_morning")
    ).all()
    assert {v.id for v in hers[1:]} <= {m.visit_id for m in mornings}
    assert len({m.visit_id for m in mornings}) == len(mornings)
    assert all(m.idempotency_key == f"visit:{m.visit_id}:reminder-morning:v1" for m in mornings)
    for message in mornings[:2]:
        link = links.find_link(session, _code(message))
        assert link.purpose == links.HOUSEHOLD_VISIT and link.visit_id == message.visit_id


def test_her_first_visit_cancelled_before_the_reminder_went_the_next_one_is_reminded(  # type: ignore[no-untyped-def]
    session, dw
):
    from volunteer_hub.services.messaging import responses

    plan = _published(session, dw)
    her = _busiest(plan, dw)
    hers = _visits_of(plan, her)
    _run_worker(
        session,
        hers[0].starts_at - timedelta(hours=3),
        hers[0].starts_at - timedelta(hours=2, minutes=30),
    )
    (queued,) = _of_kind(session, "reminder_volunteer_soon", her)
    assert queued.status is MessageStatus.QUEUED
    # The household of her first visit cancels before the reminder went out.
    responses.household_cancel(
        session, hers[0], "Bà đi viện", now=hers[0].starts_at - timedelta(hours=2, minutes=20)
    )
    session.commit()
    assert queued.status is MessageStatus.CANCELLED
    _run_worker(session, hers[0].starts_at - timedelta(hours=2, minutes=10), hers[-1].starts_at)
    live = [
        m
        for m in _of_kind(session, "reminder_volunteer_soon", her)
        if m.status is not MessageStatus.CANCELLED
    ]
    (soon,) = live
    assert soon.visit_id == hers[1].id
    assert soon.send_after == hers[1].starts_at - timedelta(hours=2)


def test_a_reminder_sent_is_her_one_reminder_of_the_day(session, dw):  # type: ignore[no-untyped-def]
    from volunteer_hub.services.messaging import responses

    plan = _published(session, dw)
    her = _busiest(plan, dw)
    hers = _visits_of(plan, her)
    _run_worker(
        session, hers[0].starts_at - timedelta(hours=3), hers[0].starts_at - timedelta(hours=2)
    )
    (sent,) = _of_kind(session, "reminder_volunteer_soon", her)
    sent.status = MessageStatus.SENT
    session.commit()
    # Her first visit is called off after she was reminded: the next one gets no second one,
    # and neither does any visit of hers once the first has started.
    responses.household_cancel(session, hers[0], None, now=hers[0].starts_at - timedelta(hours=1))
    session.commit()
    _run_worker(session, hers[0].starts_at - timedelta(minutes=50), hers[-1].starts_at)
    assert _of_kind(session, "reminder_volunteer_soon", her) == [sent]


def test_a_household_cancels_the_team_gets_one_sms_without_a_dead_link(client, session, dw):  # type: ignore[no-untyped-def]
    from volunteer_hub.services.messaging import responses

    plan = _published(session, dw)
    her = _busiest(plan, dw)
    hers = _visits_of(plan, her)
    (day_sms,) = [m for m in _day_messages(session) if m.volunteer_id == her.id]
    after = _last_id(session)
    responses.household_cancel(session, hers[0], "Bà đi viện")
    responses.household_reschedule(session, hers[1], "Chiều mai mới có nhà")
    session.commit()
    told = session.scalars(
        select(Message).where(
            Message.id > after,
            Message.volunteer_id == her.id,
            Message.kind == "cancellation_volunteer",
        )
    ).all()
    # One SMS per event, about that visit; no link in it (her day link tells the rest).
    assert sorted(m.visit_id for m in told) == sorted([hers[0].id, hers[1].id])
    assert all("/s/" not in m.body for m in told)
    # Her day link now shows the visits left, and why the moved one waits.
    text = client.get(f"/s/{_code(day_sms)}").get_data(as_text=True)
    shown = [int(n) for n in re.findall(r'id="visit-(\d+)"', text)]
    assert shown == [v.id for v in hers[1:]]
    cards = dict(re.findall(r'id="visit-(\d+)">(.*?)</section>', text, re.S))
    assert "Gia đình xin hẹn giờ khác" in cards[str(hers[1].id)]
    assert "Bạn đi cùng không đi được" not in cards[str(hers[1].id)]
    assert 'value="accept"' in cards[str(hers[2].id)]
