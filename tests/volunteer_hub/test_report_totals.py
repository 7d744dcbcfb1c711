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
    CommuneDayTotal,
    Message,
    MessageStatus,
    ReportDay,
    ReportStaleDay,
    Visit,
    VisitStatus,
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


def test_the_report_reads_the_totals_and_only_for_an_admins_whole_country(aged):  # noqa: F811
    demo = aged  # noqa: F811
    admin = _user(demo, ADMIN_EMAIL)
    coordinator = _user(demo, COORDINATOR_EMAIL)
    period = _wide(demo)
    _rebuild_all(demo)
    raw = build_report(demo, admin, period, tz=TZ, totals=False)
    mine = build_report(demo, coordinator, period, tz=TZ)
    # Tamper with one stored day: the admin's report shows it (so it reads the totals) ...
    row = demo.scalars(
        select(CommuneDayTotal).where(CommuneDayTotal.commune_id.is_not(None))
    ).first()
    row.requests_received += 1000
    demo.commit()
    tampered = build_report(demo, admin, period, tz=TZ)
    assert tampered.total.requests_received == raw.total.requests_received + 1000
    # ... a coordinator's report and a drive's never do.
    assert build_report(demo, coordinator, period, tz=TZ).total.as_json() == mine.total.as_json()
    # Computing the day again puts it right.
    totals.compute_day(demo, row.day, TZ)
    demo.commit()
    _compare(build_report(demo, admin, period, tz=TZ), raw)


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
