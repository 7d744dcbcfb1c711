"""Setting up a drive: its days and blocks, its requests, its volunteers and teams."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from tests import factories
from tests.conftest import login
from volunteer_hub.models import Drive, InvitationStatus, RequestStatus, VolunteerAvailability


def drive_form(world, **changes):  # type: ignore[no-untyped-def]
    day = factories.next_saturday().isoformat()
    data = {
        "name": "Cuối tuần số",
        "communes": [world.a.commune.code],
        "block_day": [day, day, ""],
        "block_start": ["07:30", "14:00", ""],
        "block_end": ["11:00", "17:00", ""],
        "point_name": ["Nhà văn hóa", ""],
        "point_address": ["", ""],
        "point_lat": ["16.457", ""],
        "point_lng": ["107.583", ""],
        "team_size": "2",
        "unaccented_sms": "yes",
        "minutes_vneid_activate": "40",
        "minutes_bank_app": "30",
    }
    data.update(changes)
    return data


def test_a_coordinator_sets_up_a_drive(client, world, session):
    login(client, world.a.coordinator.email)
    assert client.get("/drives/new").status_code == 200
    response = client.post("/drives/new", data=drive_form(world))
    assert response.status_code == 302
    drive = session.scalars(select(Drive).where(Drive.name == "Cuối tuần số")).one()
    assert [c.code for c in drive.communes] == [world.a.commune.code]
    assert len(drive.blocks) == 2
    local = drive.blocks[0].starts_at.astimezone(ZoneInfo("Asia/Ho_Chi_Minh"))
    assert (local.hour, local.minute) == (7, 30)
    assert drive.meeting_points[0].name == "Nhà văn hóa"
    # Only minutes that differ from the catalogue are stored.
    assert [(d.service.code, d.minutes) for d in drive.service_minutes] == [("vneid_activate", 40)]
    edited = client.post(f"/drives/{drive.id}/edit", data=drive_form(world, name="Đổi tên"))
    assert edited.status_code == 302
    session.refresh(drive)
    assert drive.name == "Đổi tên" and len(drive.blocks) == 2


def test_bad_drive_set_ups_are_refused(client, world, session):
    login(client, world.a.coordinator.email)
    before = session.scalar(select(func.count()).select_from(Drive))
    for changes in (
        {"communes": [world.b.commune.code]},
        {"block_start": ["11:00", "14:00", ""], "block_end": ["07:30", "17:00", ""]},
        {"block_start": ["07:30", "10:00", ""], "block_end": ["11:00", "17:00", ""]},
        {"block_day": ["", "", ""], "block_start": ["", "", ""], "block_end": ["", "", ""]},
        {"point_lat": ["999", ""]},
        {"team_size": "3"},
        {"name": ""},
        {"minutes_bank_app": "1000"},
    ):
        response = client.post("/drives/new", data=drive_form(world, **changes))
        assert response.status_code == 422, changes
    assert session.scalar(select(func.count()).select_from(Drive)) == before


def test_requests_are_included_and_triaged_in_bulk(client, world, session):
    extra = [factories.help_request(session, world.a.commune, priority=2) for _ in range(3)]
    session.commit()
    login(client, world.a.coordinator.email)
    drive = world.a.drive
    page = client.get(f"/drives/{drive.id}/requests?priority=1").get_data(as_text=True)
    for r in extra:
        assert r.reference in page
    assert world.b.request.reference not in page
    ids = [str(r.id) for r in extra] + [str(world.b.request.id)]
    client.post(f"/drives/{drive.id}/requests", data={"request_ids": ids, "action": "include"})
    session.refresh(drive)
    included = {dr.request_id for dr in drive.requests}
    assert {r.id for r in extra} <= included and world.b.request.id not in included
    client.post(
        f"/drives/{drive.id}/requests", data={"request_ids": ids[:2], "action": "priority-5"}
    )
    client.post(f"/drives/{drive.id}/requests", data={"request_ids": ids[:2], "action": "triage"})
    for r in extra[:2]:
        session.refresh(r)
        assert r.priority == 5 and r.status is RequestStatus.TRIAGED
    session.refresh(world.b.request)
    assert world.b.request.priority != 5
    assert (
        client.post(
            f"/drives/{drive.id}/requests", data={"request_ids": ids, "action": "nonsense"}
        ).status_code
        == 400
    )


def test_volunteers_are_invited_answer_and_are_paired(client, session):
    dw = factories.drive_world(session)
    login(client, dw.coordinator.email)
    newcomer = factories.volunteer(session, dw.commune, phone_verified_at=factories.now())
    from volunteer_hub.models import AvailabilitySlot

    newcomer.availability = [VolunteerAvailability(slot=AvailabilitySlot.SAT_MORNING)]
    session.commit()
    page = client.get(f"/drives/{dw.drive.id}/volunteers").get_data(as_text=True)
    assert newcomer.full_name in page
    client.post(
        f"/drives/{dw.drive.id}/volunteers",
        data={"action": "invite", "volunteer_ids": [str(newcomer.id)]},
    )
    session.refresh(dw.drive)
    assert newcomer.id in {dv.volunteer_id for dv in dw.drive.volunteers}
    client.post(
        f"/drives/{dw.drive.id}/volunteers",
        data={"action": "answer", "volunteer_id": str(newcomer.id), "status": "accepted"},
    )
    response = client.post(f"/drives/{dw.drive.id}/volunteers", data={"action": "form"})
    assert response.status_code == 302
    session.expire_all()
    active = [t for t in dw.drive.teams if t.active]
    members = [m.id for t in active for m in t.members]
    # Pairs only: with five volunteers one is left for the coordinator to place by hand.
    assert len(members) == len(set(members)) == 4
    assert all(len(t.members) == 2 for t in active)
    page = client.get(f"/drives/{dw.drive.id}/volunteers").get_data(as_text=True)
    assert "Đã nhận lời nhưng chưa có đội" in page or "Accepted but in no team" in page


def test_a_minor_never_goes_alone(client, session):
    dw = factories.drive_world(session)
    minor = dw.drive.teams[0].members[0]
    minor.date_of_birth = minor.date_of_birth.replace(year=factories.now().year - 16)
    session.commit()
    login(client, dw.coordinator.email)
    other = next(m for m in dw.drive.teams[0].members if m is not minor)
    response = client.post(
        f"/drives/{dw.drive.id}/volunteers",
        data={"action": "move", "volunteer_id": str(other.id), "team_code": ""},
    )
    assert response.status_code == 303
    session.expire_all()
    team = next(t for t in dw.drive.teams if minor in t.members)
    assert other in team.members


def test_a_drop_out_leaves_the_team(client, session):
    dw = factories.drive_world(session)
    team = dw.drive.teams[0]
    leaving = team.members[0]
    login(client, dw.coordinator.email)
    client.post(
        f"/drives/{dw.drive.id}/volunteers",
        data={"action": "answer", "volunteer_id": str(leaving.id), "status": "withdrawn"},
    )
    session.expire_all()
    assert leaving not in team.members
    link = next(dv for dv in dw.drive.volunteers if dv.volunteer_id == leaving.id)
    assert link.status is InvitationStatus.WITHDRAWN


def test_bulk_triage_can_take_every_request_the_filter_matches_on_every_page(
    client, world, session
):
    # 55 matching requests: the list shows 50 a page, the choice still takes all 55.
    matching = [factories.help_request(session, world.a.commune, priority=4) for _ in range(55)]
    other = factories.help_request(session, world.a.commune, priority=2)
    session.commit()
    login(client, world.a.coordinator.email)
    drive = world.a.drive
    page = client.get(f"/drives/{drive.id}/requests?priority=4").get_data(as_text=True)
    assert (
        'id="select-all"' in page and "55" in page.split('id="select-all"')[1].split("</label>")[0]
    )
    assert sum(r.reference in page for r in matching) == 50  # one page of them
    response = client.post(
        f"/drives/{drive.id}/requests?priority=4", data={"scope": "all", "action": "triage"}
    )
    assert response.status_code == 302 and "priority=4" in response.headers["Location"]
    for r in [*matching, other, world.b.request]:
        session.refresh(r)
    assert all(r.status is RequestStatus.TRIAGED for r in matching)
    assert other.status is RequestStatus.NEW  # outside the filter
    assert world.b.request.status is not RequestStatus.TRIAGED  # outside the coordinator's scope
    included = client.post(
        f"/drives/{drive.id}/requests?priority=4", data={"scope": "all", "action": "include"}
    )
    assert included.status_code == 302
    session.refresh(drive)
    assert {r.id for r in matching} <= {dr.request_id for dr in drive.requests}
    assert other.id not in {dr.request_id for dr in drive.requests}


def test_the_drive_list_is_ordered_by_the_drives_date(client, world, session):
    today = factories.now().date()
    from datetime import timedelta

    # Created in an order that is not their dates' order.
    late = factories.drive(
        session, [world.a.commune], name="Đợt tháng sau", day=today + timedelta(days=30)
    )
    early = factories.drive(
        session, [world.a.commune], name="Đợt tuần trước", day=today - timedelta(days=7)
    )
    middle = factories.drive(
        session, [world.a.commune], name="Đợt tuần này", day=today + timedelta(days=2)
    )
    session.commit()
    login(client, world.a.coordinator.email)
    page = client.get("/drives").get_data(as_text=True)
    positions = [page.index(d.name) for d in (late, middle, early)]
    assert positions == sorted(positions), positions  # the latest date first


def test_hamlets_sort_the_way_people_count_them(client, world, session):
    for name in ("Thôn 10", "Thôn 2", "Thôn 1", "Thôn 11", "Thôn 3"):
        factories.hamlet(session, world.a.commune, name)
    session.commit()
    login(client, world.a.coordinator.email)
    expected = ["Thôn 1", "Thôn 2", "Thôn 3", "Thôn 10", "Thôn 11"]
    for url in (
        f"/communes/{world.a.commune.code}",
        f"/drives/{world.a.drive.id}/requests",
        "/requests/new",
    ):
        page = client.get(url).get_data(as_text=True)
        positions = [
            page.index(f">{name}<") if f">{name}<" in page else page.index(f">{name} (")
            for name in expected
        ]
        assert positions == sorted(positions), (url, positions)
