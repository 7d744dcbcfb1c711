"""The national report from daily totals: the same figures as from the raw rows, kept true.

The totals (``services/results/totals.py``) hold each commune's additive figures per closed
day; the volunteers who went are per-day sets, and the urgent served and median wait are
always counted from the raw rows. These tests compare the report read from totals with the
report counted from the rows (and with the plain Python counting of test_report_figures).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from tests import factories
from tests.volunteer_hub.test_report_figures import (
    TZ,
    _compare,
    _user,
    _wide,
    demo,  # noqa: F401 - the fixture
    old_build_report,
)
from volunteer_hub.cli.reports import rebuild_totals
from volunteer_hub.demo.hue import ADMIN_EMAIL, COORDINATOR_EMAIL
from volunteer_hub.models import (
    Commune,
    CommuneDayTotal,
    Drive,
    HelpRequest,
    Message,
    MessageStatus,
    Province,
    ReportDay,
    ReportStaleDay,
    Visit,
    VisitStatus,
    Volunteer,
    VolunteerDayTotal,
)
from volunteer_hub.services.results import stored, totals
from volunteer_hub.services.results.reports import Period, build_report, uncovered
from volunteer_hub.worker import run_once


@pytest.fixture
def aged(demo):  # type: ignore[no-untyped-def]  # noqa: F811
    """The demo with its messages (all recent) sent ten days earlier, on totalled days."""
    for message in demo.scalars(select(Message)):
        message.created_at -= timedelta(days=10)
    demo.commit()
    return demo


def _rebuild_all(session) -> int:  # type: ignore[no-untyped-def]
    """Total every closed day from the demo's first row on (the wide period's days before
    it hold nothing, and are counted from the rows quickly)."""
    from volunteer_hub.models import HelpRequest

    firsts = [
        session.scalar(select(func.min(column)))
        for column in (Visit.starts_at, Message.created_at, HelpRequest.created_at)
    ]
    first = min(f for f in firsts if f is not None).astimezone(TZ).date()
    return totals.rebuild(session, first, _wide(session).last, TZ)


def _past(session, model, column):  # type: ignore[no-untyped-def]
    """A row of ``model`` on a closed day (one the totals may hold)."""
    closed = datetime.combine(totals.last_closed_day(TZ), datetime.min.time(), TZ)
    return session.scalars(select(model).where(column < closed).order_by(column.desc())).first()


def test_uncovered_days_are_the_runs_between_the_covered_ones():
    d = datetime(2026, 3, 1).date()
    period = Period(d, d + timedelta(days=9))
    covered = [d + timedelta(days=n) for n in (0, 1, 4, 5, 9)]
    assert uncovered(period, covered) == [
        Period(d + timedelta(days=2), d + timedelta(days=3)),
        Period(d + timedelta(days=6), d + timedelta(days=8)),
    ]
    assert uncovered(period, []) == [period]


def test_the_report_from_totals_equals_the_report_from_the_rows(aged):  # noqa: F811
    demo = aged  # noqa: F811
    admin = _user(demo, ADMIN_EMAIL)
    period = _wide(demo)
    raw = build_report(demo, admin, period, tz=TZ, totals=False)
    assert _rebuild_all(demo) > 20
    covered = stored.covered_days(demo, period, TZ)
    assert covered and max(covered) == totals.last_closed_day(TZ)
    assert demo.scalar(select(func.count()).select_from(CommuneDayTotal)) > 0
    assert demo.scalar(select(func.count()).select_from(VolunteerDayTotal)) > 0
    # The demo's past drives are in the totals: they hold visits, people and volunteers.
    assert demo.scalar(select(func.sum(CommuneDayTotal.served))) > 0
    assert demo.scalar(select(func.sum(CommuneDayTotal.sms_sent))) > 0
    kept = build_report(demo, admin, period, tz=TZ)
    _compare(kept, raw)
    # The trend over time too: the totalled days' served and people helped, day by day.
    assert kept.daily == raw.daily and sum(n for n, _h in raw.daily.values()) > 0
    _compare(kept, old_build_report(demo, admin, period, tz=TZ))
    assert [p.id for p, _f in kept.provinces] == [p.id for p, _f in raw.provinces]
    for (_p, s), (_q, r) in zip(kept.provinces, raw.provinces, strict=True):
        assert s.as_json() == r.as_json()
    # Shorter periods cut inside the totalled days give the same figures too.
    last = totals.last_closed_day(TZ)
    for first, end in ((last - timedelta(days=30), last + timedelta(days=1)), (last, last)):
        part = Period(first, end)
        from_totals = build_report(demo, admin, part, tz=TZ)
        from_rows = build_report(demo, admin, part, tz=TZ, totals=False)
        _compare(from_totals, from_rows)
        assert from_totals.daily == from_rows.daily


def test_every_report_but_a_drives_reads_the_totals_of_its_communes(aged):  # noqa: F811
    demo = aged  # noqa: F811
    admin = _user(demo, ADMIN_EMAIL)
    coordinator = _user(demo, COORDINATOR_EMAIL)
    period = _wide(demo)
    _rebuild_all(demo)
    raw = build_report(demo, admin, period, tz=TZ, totals=False)
    mine = build_report(demo, coordinator, period, tz=TZ)
    drive = demo.scalars(select(Drive).order_by(Drive.id)).first()
    of_drive = build_report(demo, coordinator, period, tz=TZ, drive_id=drive.id)
    # Tamper with one stored day of one of the coordinator's communes: the admin's report,
    # the coordinator's, the province's and the commune's show it (so they read the totals) ...
    row = demo.scalars(
        select(CommuneDayTotal)
        .where(CommuneDayTotal.commune_id.in_(sorted(coordinator.commune_ids)))
        .order_by(CommuneDayTotal.requests_received.desc())
    ).first()
    row.requests_received += 1000
    demo.commit()
    commune = demo.get(Commune, row.commune_id)
    for user, kw, before in (
        (admin, {}, raw),
        (coordinator, {}, mine),
        (admin, {"province_code": commune.province.code}, raw),
        (coordinator, {"commune_code": commune.code}, None),
    ):
        tampered = build_report(demo, user, period, tz=TZ, **kw)
        expected = before or build_report(demo, user, period, tz=TZ, totals=False, **kw)
        assert tampered.total.requests_received == expected.total.requests_received + 1000
    # ... a coordinator's other communes and a drive's report do not.
    other = [c for c, _f in mine.communes if c.id != commune.id]
    kept = {c.id: f.as_json() for c, f in build_report(demo, coordinator, period, tz=TZ).communes}
    assert all(kept[c.id] == f.as_json() for c, f in mine.communes if c in other)
    again = build_report(demo, coordinator, period, tz=TZ, drive_id=drive.id)
    assert again.total.as_json() == of_drive.total.as_json()
    # Computing the day again puts it right.
    totals.compute_day(demo, row.day, TZ)
    demo.commit()
    _compare(build_report(demo, admin, period, tz=TZ), raw)
    _compare(build_report(demo, coordinator, period, tz=TZ), mine)


@pytest.fixture
def spread(aged):  # type: ignore[no-untyped-def]
    """The aged demo with a second province, and messages about the demo's drives (which a
    coordinator of the demo's communes may see) that belong to no commune of theirs: two
    households of the drives moved to the other province (a request moved away), two
    volunteers who live there, and one message about a drive with neither household nor
    volunteer; plus one message about no drive, placed in the other province."""
    data = aged
    away = factories.commune(data, factories.province(data, name="Tỉnh Khác"))
    about_drives = select(Message).where(Message.drive_id.is_not(None)).order_by(Message.id)
    to_households = list(data.scalars(about_drives.where(Message.request_id.is_not(None))))
    to_volunteers = list(data.scalars(about_drives.where(Message.volunteer_id.is_not(None))))
    assert len(to_households) > 4 and len(to_volunteers) > 4
    for message in to_households[:2]:
        data.get(HelpRequest, message.request_id).commune_id = away.id
    for message in to_volunteers[:2]:
        data.get(Volunteer, message.volunteer_id).home_commune_id = away.id
    nowhere = to_volunteers[2]
    nowhere.volunteer_id = None
    not_a_drives = to_households[0]
    data.add(
        Message(
            idempotency_key="test:not-about-a-drive",
            kind="test",
            to_phone=not_a_drives.to_phone,
            body="-",
            status=MessageStatus.DELIVERED,
            price=-0.05,
            price_unit="USD",
            created_at=not_a_drives.created_at,
            request_id=not_a_drives.request_id,
        )
    )
    data.commit()
    return data


def _scopes(data):  # type: ignore[no-untyped-def]
    """(user, build_report's keywords) of every kind of scope smaller than the country."""
    admin = _user(data, ADMIN_EMAIL)
    coordinator = _user(data, COORDINATOR_EMAIL)
    hue = data.scalars(select(Province).order_by(Province.id)).first()
    whole_province = factories.user(data, communes=list(hue.communes))
    data.commit()
    mine = sorted(coordinator.commune_ids)
    busiest = data.scalar(
        select(Commune.code)
        .join(HelpRequest, HelpRequest.commune_id == Commune.id)
        .where(Commune.id.in_(mine))
        .group_by(Commune.code)
        .order_by(func.count().desc())
    )
    other = data.scalars(select(Province).where(Province.id != hue.id)).one()
    return [
        (whole_province, {}),
        (coordinator, {}),
        (coordinator, {"commune_code": busiest}),
        (admin, {"province_code": hue.code}),
        (admin, {"province_code": other.code}),
        (admin, {"commune_code": busiest}),
    ]


def _same_reports(data, scopes, period, raws):  # type: ignore[no-untyped-def]
    for (user, kw), raw in zip(scopes, raws, strict=True):
        kept = build_report(data, user, period, tz=TZ, **kw)
        _compare(kept, raw)
        assert kept.daily == raw.daily
        assert [p.id for p, _f in kept.provinces] == [p.id for p, _f in raw.provinces]
        for (_p, s), (_q, r) in zip(kept.provinces, raw.provinces, strict=True):
            assert s.as_json() == r.as_json()


def test_a_province_a_commune_and_a_coordinator_from_totals_equal_the_rows(spread):
    data = spread
    period = _wide(data)
    scopes = _scopes(data)
    raws = [build_report(data, u, period, tz=TZ, totals=False, **kw) for u, kw in scopes]
    # The coordinator of the whole province counts the messages about their drives that
    # belong to no commune of theirs: more than their communes hold.
    whole = raws[0]
    assert whole.total.sms_sent > sum(f.sms_sent for _c, f in whole.communes)
    assert whole.total.sms_cost_unit == "USD" and whole.total.served > 0
    _compare(whole, old_build_report(data, scopes[0][0], period, tz=TZ))
    # An admin's province counts the messages about the province's own drives, as its
    # coordinator does (not every drive of the country).
    assert raws[3].total.as_json() == whole.total.as_json()
    # The other province has no drive of its own: its messages are its communes'.
    other = raws[4]
    assert other.total.sms_sent == sum(f.sms_sent for _c, f in other.communes) > 0
    assert _rebuild_all(data) > 20
    assert stored.covered_days(data, period, TZ)
    _same_reports(data, scopes, period, raws)
    # Shorter periods cut inside the totalled days too.
    last = totals.last_closed_day(TZ)
    for part in (Period(last - timedelta(days=30), last + timedelta(days=1)), Period(last, last)):
        from_rows = [build_report(data, u, part, tz=TZ, totals=False, **kw) for u, kw in scopes]
        _same_reports(data, scopes, part, from_rows)


def test_late_changes_to_a_provinces_totalled_days_are_counted_from_the_rows(spread):
    data = spread
    period = _wide(data)
    scopes = _scopes(data)
    _rebuild_all(data)
    coordinator = scopes[1][0]
    # An outcome reported late in one of the coordinator's communes ...
    visit = data.scalars(
        select(Visit)
        .join(HelpRequest, HelpRequest.id == Visit.request_id)
        .where(HelpRequest.commune_id.in_(sorted(coordinator.commune_ids)))
        .where(Visit.starts_at < datetime.now(TZ) - timedelta(days=3))
        .where(Visit.status == VisitStatus.DONE)
        .order_by(Visit.starts_at.desc())
    ).first()
    assert visit is not None
    visit.status = VisitStatus.NOT_HOME
    # ... a delivery report for a message about a drive placed outside their communes, and a
    # volunteer who moved into the other province.
    outside = data.scalars(
        select(Message).where(
            Message.drive_id.is_not(None),
            Message.volunteer_id.is_(None),
            Message.request_id.is_(None),
        )
    ).first()
    assert outside is not None and outside.status is not MessageStatus.FAILED
    data.commit()
    data.execute(
        update(Message)
        .where(Message.id == outside.id)
        .values(status=MessageStatus.FAILED)
        .execution_options(synchronize_session=False)
    )
    mover = data.scalars(
        select(Volunteer)
        .join(Message, Message.volunteer_id == Volunteer.id)
        .where(Volunteer.home_commune_id.in_(sorted(coordinator.commune_ids)))
    ).first()
    away = data.scalars(select(Commune).order_by(Commune.id.desc())).first()
    mover.home_commune_id = away.id
    data.commit()
    assert data.scalar(select(func.count()).select_from(ReportStaleDay)) > 0
    raws = [build_report(data, u, period, tz=TZ, totals=False, **kw) for u, kw in scopes]
    _same_reports(data, scopes, period, raws)
    # The worker computes the stale days again: the same figures from the totals.
    totals.refresh(data, TZ)
    data.commit()
    assert data.scalar(select(func.count()).select_from(ReportStaleDay)) == 0
    _same_reports(data, scopes, period, raws)


def test_a_province_reads_its_currencies_from_days_totalled_before_they_were_kept(spread):
    data = spread
    period = _wide(data)
    scopes = _scopes(data)
    raws = [build_report(data, u, period, tz=TZ, totals=False, **kw) for u, kw in scopes]
    _rebuild_all(data)
    # Days totalled by the earlier code: the communes' rows kept no currencies.
    data.execute(
        update(CommuneDayTotal).where(CommuneDayTotal.commune_id.is_not(None)).values(sms_units={})
    )
    data.commit()
    for (user, kw), raw in zip(scopes, raws, strict=True):
        kept = build_report(data, user, period, tz=TZ, **kw)
        assert kept.total.sms_cost_unit == raw.total.sms_cost_unit


def test_a_late_change_to_a_totalled_day_is_counted_from_the_rows(aged):  # noqa: F811
    demo = aged  # noqa: F811
    admin = _user(demo, ADMIN_EMAIL)
    period = _wide(demo)
    _rebuild_all(demo)
    visit = _past(demo, Visit, Visit.starts_at)
    assert visit is not None
    day = visit.starts_at.astimezone(TZ).date()
    # An outcome reported late: the visit did not happen after all.
    visit.status = VisitStatus.NOT_HOME if visit.status is VisitStatus.DONE else VisitStatus.DONE
    visit.people_helped = (visit.people_helped or 0) + 3
    demo.commit()
    assert day in set(demo.scalars(select(ReportStaleDay.day)))
    assert day not in stored.covered_days(demo, period, TZ)
    _compare(
        build_report(demo, admin, period, tz=TZ),
        build_report(demo, admin, period, tz=TZ, totals=False),
    )
    # A bulk status change of an old message (a delivery report, a purge) marks its day too.
    message = _past(demo, Message, Message.created_at)
    message_day = message.created_at.astimezone(TZ).date()
    demo.execute(
        update(Message)
        .where(Message.id == message.id)
        .values(status=MessageStatus.FAILED)
        .execution_options(synchronize_session=False)
    )
    demo.commit()
    assert message_day in set(demo.scalars(select(ReportStaleDay.day)))
    # The worker computes the stale days again and removes their marks.
    run = totals.refresh(demo, TZ)
    demo.commit()
    assert day in run.days and message_day in run.days
    assert demo.scalar(select(func.count()).select_from(ReportStaleDay)) == 0
    assert day in stored.covered_days(demo, period, TZ)
    _compare(
        build_report(demo, admin, period, tz=TZ),
        build_report(demo, admin, period, tz=TZ, totals=False),
    )


def test_todays_writes_mark_nothing_and_today_is_never_totalled(demo):  # noqa: F811
    _rebuild_all(demo)
    today = datetime.now(TZ).date()
    assert demo.scalar(select(func.max(ReportDay.day))) == today - timedelta(days=2)
    visit = demo.scalars(select(Visit).where(Visit.starts_at >= datetime.now(TZ))).first()
    if visit is not None:
        visit.people_helped = (visit.people_helped or 0) + 1
        demo.commit()
    assert demo.scalar(select(func.count()).select_from(ReportStaleDay)) == 0


@pytest.mark.app_config(REPORT_TOTALS_DAYS=30)
def test_the_worker_keeps_the_totals(app, demo):  # noqa: F811
    done = run_once(app, ("purge",))
    run = done["report-totals"]
    assert len(run.days) == 30 and max(run.days) == totals.last_closed_day(TZ)
    assert run_once(app, ("purge",))["report-totals"].days == []


def test_rebuild_totals_from_the_command_line(app, demo):  # noqa: F811
    runner = app.test_cli_runner()
    last = totals.last_closed_day(TZ)
    first = last - timedelta(days=6)
    result = runner.invoke(rebuild_totals, ["--from", first.isoformat(), "--to", last.isoformat()])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("7 day(s) totalled")
    assert demo.scalar(select(func.count()).select_from(ReportDay)) == 7
    bad = runner.invoke(rebuild_totals, ["--from", "yesterday"])
    assert bad.exit_code == 2 and "not a date" in bad.output
    ahead = runner.invoke(rebuild_totals, ["--from", (last + timedelta(days=1)).isoformat()])
    assert ahead.exit_code == 2 and "counted live" in ahead.output
