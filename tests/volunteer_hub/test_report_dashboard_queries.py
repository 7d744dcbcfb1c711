"""The report dashboard at scale: as many SQL statements for 30 drives as for 3, the volunteer
hours a page at a time, and a drive filter that stays short."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import event

from tests import factories
from tests.conftest import login
from volunteer_hub.extensions import db
from volunteer_hub.i18n import local_zone
from volunteer_hub.models import Message, MessageStatus, Role, VisitStatus
from volunteer_hub.services.results import stored, totals
from volunteer_hub.services.results.figures import Period
from volunteer_hub.web import reports as web_reports


@contextmanager
def counted() -> Iterator[list[str]]:
    """Collect the SQL statements the engine runs inside the block."""
    statements: list[str] = []

    def before(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", before)


@pytest.fixture
def country(session):  # type: ignore[no-untyped-def]
    """An admin, and a way to add communes each with a drive its volunteer went on."""
    province = factories.province(session)
    admin = factories.user(session, Role.ADMIN, email="admin@example.vn")
    worlds = []

    def add(n: int) -> None:
        for _ in range(n):
            world = factories.commune_world(session, province, f"Xã {len(worlds) + 1:03d}")
            world.visit.status = VisitStatus.DONE
            world.visit.minutes_spent = 20 + len(worlds)  # the later, the more hours
            worlds.append(world)
        session.commit()

    return admin, worlds, add


def _period(worlds) -> str:  # type: ignore[no-untyped-def]
    days = [w.drive.blocks[0].starts_at.date() for w in worlds]
    return f"from={min(days) - timedelta(days=1)}&to={max(days) + timedelta(days=1)}"


def _drive_options(body: str) -> list[int]:
    """The drive ids the filter offers."""
    select = body.split('name="drive"', 1)[1].split("</select>", 1)[0]
    return [int(v) for v in re.findall(r'<option value="(\d+)"', select)]


def _dashboard(client, query: str) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    client.get(f"/reports?{query}")  # warm-up: the session's user, the catalogues
    with counted() as statements:
        response = client.get(f"/reports?{query}")
    assert response.status_code == 200
    return len(statements), response.get_data(as_text=True)


def test_the_dashboard_runs_as_many_statements_for_30_drives_as_for_3(client, country):
    admin, worlds, add = country
    add(3)
    login(client, admin.email)
    few, body = _dashboard(client, _period(worlds))
    assert body.count("/certificate") == 3
    assert len(_drive_options(body)) == 3

    add(27)
    many, body = _dashboard(client, _period(worlds))
    assert len(_drive_options(body)) == 30
    for world in worlds:
        assert world.volunteer.full_name in body
    assert many == few, f"{few} statements for 3 drives, {many} for 30"


def test_the_hours_table_is_paged_most_hours_first_each_volunteer_once(
    client, country, monkeypatch
):
    admin, worlds, add = country
    add(25)
    monkeypatch.setattr(web_reports, "HOURS_PAGE_SIZE", 10)
    login(client, admin.email)
    period = _period(worlds)
    names = {w.volunteer.full_name for w in worlds}
    seen: list[str] = []
    for page in (1, 2, 3):
        body = client.get(f"/reports?hours_page={page}&{period}").get_data(as_text=True)
        hours = body.split('id="hours"', 1)[1]
        on_page = [n for n in names if f"<tr><td>{n}</td>" in hours]
        assert len(on_page) == (10 if page < 3 else 5)
        seen += on_page
        assert ("hours_page=" in hours and 'rel="next"' in hours) == (page < 3)
    assert sorted(seen) == sorted(names)
    # The first page holds the ten with the most hours (the last added).
    assert set(seen[:10]) == {w.volunteer.full_name for w in worlds[-10:]}
    for bad in ("4", "0", "abc", "9" * 30):
        assert client.get(f"/reports?hours_page={bad}&{period}").status_code == 422


def test_a_long_drive_list_keeps_the_period_s_latest_and_the_chosen_drive(
    client, session, country, monkeypatch
):
    admin, worlds, add = country
    add(8)
    monkeypatch.setattr(web_reports, "DRIVE_CHOICES", 5)
    # Two drives long before the period.
    for world in worlds[:2]:
        for block in world.drive.blocks:
            block.starts_at -= timedelta(days=400)
            block.ends_at -= timedelta(days=400)
    session.commit()
    login(client, admin.email)
    period = _period(worlds[2:])
    body = client.get(f"/reports?{period}").get_data(as_text=True)
    listed = set(_drive_options(body))
    assert len(listed) == 5 and 'id="drives-limited"' in body
    assert not listed & {w.drive.id for w in worlds[:2]}
    # A drive chosen outside the list is still listed, and selected.
    old = worlds[0].drive.id
    body = client.get(f"/reports?drive={old}").get_data(as_text=True)
    assert f'<option value="{old}" selected' in body


def _export(client, path: str) -> tuple[int, bytes]:  # type: ignore[no-untyped-def]
    client.get(path)  # warm-up: the session's user, the catalogues
    with counted() as statements:
        response = client.get(path)
    assert response.status_code == 200
    return len(statements), response.data


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_the_exports_run_as_many_statements_for_30_communes_as_for_3(client, country, fmt):
    # The export records an audit event and commits; the file is written before the commit,
    # which expires every record read (its communes read again one by one were 3,321
    # statements for a country).
    admin, worlds, add = country
    add(3)
    login(client, admin.email)
    few, body = _export(client, f"/reports/export.{fmt}?{_period(worlds)}")
    add(27)
    many, body = _export(client, f"/reports/export.{fmt}?{_period(worlds)}")
    assert many == few
    if fmt == "csv":
        assert all(w.commune.name in body.decode("utf-8-sig") for w in worlds)


def test_a_coordinators_dashboard_from_totals_runs_as_many_statements_for_30_as_for_3(
    client, session, country
):
    """A coordinator of a province reads the daily totals of their communes (and the messages
    about their drives that no commune of theirs holds): still as many statements for 30
    communes, drives and volunteers as for 3."""
    _admin, worlds, add = country
    coordinator = factories.user(session, Role.COORDINATOR, email="province@example.vn")
    tz = local_zone()

    def grow(n: int) -> None:
        add(n)
        away = factories.volunteer(session, factories.commune(session))
        for world in worlds[-n:]:
            # The drive three weeks ago, on days the totals hold.
            for block in world.drive.blocks:
                block.starts_at -= timedelta(days=21)
                block.ends_at -= timedelta(days=21)
            for name in ("arrival_at", "starts_at", "ends_at"):
                setattr(world.visit, name, getattr(world.visit, name) - timedelta(days=21))
            for volunteer_id in (world.volunteer.id, away.id):
                session.add(
                    Message(
                        idempotency_key=f"test:{world.drive.id}:{volunteer_id}",
                        kind="test",
                        to_phone="+84900000000",
                        body="-",
                        status=MessageStatus.DELIVERED,
                        price=-0.05,
                        price_unit="USD",
                        created_at=world.visit.starts_at,
                        drive_id=world.drive.id,
                        volunteer_id=volunteer_id,
                    )
                )
        coordinator.communes = [w.commune for w in worlds]
        session.commit()
        days = [w.visit.starts_at.astimezone(tz).date() for w in worlds]
        totals.rebuild(session, min(days) - timedelta(days=1), max(days) + timedelta(days=1), tz)

    grow(3)
    login(client, coordinator.email)
    period = _period(worlds)
    few, body = _dashboard(client, period)
    assert body.count("/certificate") == 3 and len(_drive_options(body)) == 3
    first = min(w.drive.blocks[0].starts_at for w in worlds).astimezone(tz).date()
    assert first in stored.covered_days(session, Period(first, first), tz)

    grow(27)
    many, body = _dashboard(client, _period(worlds))
    assert len(_drive_options(body)) == 30
    for world in worlds:
        assert world.volunteer.full_name in body
    assert many == few, f"{few} statements for 3 communes, {many} for 30"
