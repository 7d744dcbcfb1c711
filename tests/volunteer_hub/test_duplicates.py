"""One household, one visit: likely duplicate requests are flagged and planned once."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlalchemy import select

from tests import factories
from tests.conftest import login
from volunteer_hub.models import AuditEvent, DriveRequest, HelpRequest, RequestSource
from volunteer_hub.services.drives import planning
from volunteer_hub.services.intake.help_requests import parse_request, submit_request

TZ = ZoneInfo("Asia/Ho_Chi_Minh")


def ask(session, commune, **changes) -> HelpRequest:  # type: ignore[no-untyped-def]
    """Submit a request as the public form would, with changes applied."""
    payload = {
        "beneficiary_name": "Nguyễn Thị Hoà",
        "phone": "0912 345 678",
        "commune": commune.code,
        "services": ["vneid_activate"],
        "consent": True,
    } | changes
    return submit_request(session, parse_request(payload), source=RequestSource.WEB).request


def test_same_folded_name_in_the_same_hamlet_with_another_phone_is_flagged(session, world):
    hamlet = world.a.hamlet
    first = ask(session, world.a.commune, hamlet_id=hamlet.id)
    second = ask(
        session,
        world.a.commune,
        beneficiary_name="  nguyen thi HOA ",
        phone="0987 654 321",
        hamlet_id=hamlet.id,
    )
    assert second.possible_duplicate_of_id == first.id
    # The same name and house, the hamlet typed by hand, another phone: flagged too.
    third = ask(
        session,
        world.a.commune,
        beneficiary_name="Nguyễn Thị Lan",
        house="5 kiệt 3 Lê Lợi",
        hamlet_name="Thôn Đông",
    )
    fourth = ask(
        session,
        world.a.commune,
        beneficiary_name="NGUYEN THI LAN",
        phone="0977 111 222",
        house="5 Kiet 3 le loi",
        hamlet_name="thon dong",
    )
    assert third.possible_duplicate_of_id is None
    assert fourth.possible_duplicate_of_id == third.id


def test_other_names_or_other_houses_are_not_flagged(session, world):
    hamlet = world.a.hamlet
    ask(session, world.a.commune, hamlet_id=hamlet.id, house="12 Lê Lợi")
    other_name = ask(
        session,
        world.a.commune,
        beneficiary_name="Trần Văn Nam",
        phone="0987 654 321",
        hamlet_id=hamlet.id,
    )
    other_house = ask(
        session, world.a.commune, phone="0987 000 111", hamlet_id=hamlet.id, house="99 Hùng Vương"
    )
    other_commune = ask(session, world.b.commune, phone="0987 222 333", hamlet_id=world.b.hamlet.id)
    assert other_name.possible_duplicate_of_id is None
    assert other_house.possible_duplicate_of_id is None
    assert other_commune.possible_duplicate_of_id is None


def _drive_with_twins(session):  # type: ignore[no-untyped-def]
    dw = factories.drive_world(session, households=2)
    hamlet = factories.hamlet(session, dw.commune, name="Tổ dân phố 7")
    first = ask(session, dw.commune, hamlet_id=hamlet.id)
    second = ask(
        session,
        dw.commune,
        beneficiary_name="nguyen thi hoa",
        phone="0987 654 321",
        hamlet_id=hamlet.id,
    )
    assert second.possible_duplicate_of_id == first.id
    for record in (first, second):
        record.lat, record.lng = 16.452, 107.582
        dw.drive.requests.append(DriveRequest(request=record))
    session.commit()
    return dw, first, second


def test_a_drive_plans_one_visit_for_two_requests_of_one_household(session, dw_twins=None):
    dw, first, second = _drive_with_twins(session)
    problem = planning.build_problem(session, dw.drive, tz=TZ)
    ids = {v.id for v in problem.visits}
    assert first.reference in ids and second.reference not in ids
    assert len(ids) == 3
    plan = planning.start_plan(session, dw.drive, user=dw.coordinator, tz=TZ, time_limit_s=4)
    assert plan.params["duplicates"] == {second.reference: first.reference}


def test_the_coordinator_sees_why_and_a_not_duplicate_mark_plans_both(client, session):
    dw, first, second = _drive_with_twins(session)
    login(client, dw.coordinator.email)
    page = client.get(f"/drives/{dw.drive.id}/requests?lang=en").get_data(as_text=True)
    assert "Left out of planning: likely duplicates" in page
    assert f"possible duplicate of {first.reference}, which is planned." in page
    detail = client.get(f"/requests/{second.id}?lang=en").get_data(as_text=True)
    assert "Possible duplicate of" in detail
    assert f'/requests/{first.id}">{first.reference}</a>' in detail
    vi = client.get(f"/requests/{second.id}?lang=vi").get_data(as_text=True)
    assert "Không phải trùng: xếp lịch cả hai" in vi and "Có thể trùng với" in vi

    response = client.post(
        f"/requests/{second.id}/not-duplicate", data={"value": "yes"}, follow_redirects=False
    )
    assert response.status_code == 303
    session.expire_all()
    record = session.get(HelpRequest, second.id)
    assert record.not_duplicate is True
    event = session.scalars(
        select(AuditEvent).where(
            AuditEvent.entity == "help_request",
            AuditEvent.entity_id == str(second.id),
            AuditEvent.action == "update",
        )
    ).one()
    assert event.user_id == dw.coordinator.id and event.detail["not_duplicate"] is True
    problem = planning.build_problem(session, record_drive(session, dw), tz=TZ)
    assert {first.reference, second.reference} <= {v.id for v in problem.visits}
    page = client.get(f"/drives/{dw.drive.id}/requests?lang=en").get_data(as_text=True)
    assert "Left out of planning" not in page

    # Taken back: held out again.
    client.post(f"/requests/{second.id}/not-duplicate", data={"value": "no"})
    session.expire_all()
    problem = planning.build_problem(session, record_drive(session, dw), tz=TZ)
    assert second.reference not in {v.id for v in problem.visits}


def record_drive(session, dw):  # type: ignore[no-untyped-def]
    from volunteer_hub.models import Drive

    return session.get(Drive, dw.drive.id)


def test_a_request_without_a_flag_cannot_be_marked(client, session):
    dw, first, _second = _drive_with_twins(session)
    login(client, dw.coordinator.email)
    response = client.post(f"/requests/{first.id}/not-duplicate", data={"value": "yes"})
    assert response.status_code == 303
    session.expire_all()
    assert session.get(HelpRequest, first.id).not_duplicate is False


def test_an_original_outside_the_drive_does_not_hold_its_duplicate(session):
    dw, first, second = _drive_with_twins(session)
    dw.drive.requests = [dr for dr in dw.drive.requests if dr.request_id != first.id]
    session.commit()
    problem = planning.build_problem(session, dw.drive, tz=TZ)
    assert second.reference in {v.id for v in problem.visits}
