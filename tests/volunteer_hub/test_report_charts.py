"""The dashboard's charts: they fit their data and the page, speak the page's language, and
show the trend over the period (docs/reports.md)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from flask_babel import force_locale
from sqlalchemy import select

from tests.conftest import login
from volunteer_hub.demo.hue import ADMIN_EMAIL, COORDINATOR_EMAIL, seed_demo
from volunteer_hub.models import User, Visit, VisitStatus
from volunteer_hub.services.results.reports import Figures as F
from volunteer_hub.services.results.reports import (
    Period,
    Report,
    build_report,
    trend,
    trend_unit,
)
from volunteer_hub.web import charts

TZ = ZoneInfo("Asia/Ho_Chi_Minh")
PASSWORD = "demo-password-1"


def _bar_labels(svg: str) -> list[str]:
    """The category labels drawn on the left axis of the first drawing."""
    first = svg.split("</svg>")[0]
    left = first[first.index('class="axis left"') :]
    return re.findall(r"<text[^>]*>([^<]*)</text>", left)


def test_the_commune_chart_draws_only_the_communes_with_figures(app):
    with app.test_request_context(), force_locale("en"):
        names = [f"Commune {i:02d}" for i in range(40)]
        planned = [0.0] * 40
        served = [0.0] * 40
        planned[3], planned[17], planned[30] = 5, 9, 2
        served[17] = 4
        chart = charts.grouped(names, [("Planned", planned), ("Served", served)])
    labels = _bar_labels(str(chart))
    # Three bars, the biggest at the top (leather writes the axis from the bottom up).
    assert labels[::-1] == ["Commune 17", "Commune 03", "Commune 30"]
    assert "Commune 00" not in str(chart)


def test_past_the_top_ten_the_rest_is_one_others_bar(app):
    with app.test_request_context(), force_locale("en"):
        names = [f"C{i:02d}" for i in range(15)]
        values = [float(15 - i) for i in range(15)]
        shown, series = charts.top_with_others(names, [("Planned", values)])
        assert shown == [*names[:10], "Others (5)"]
        assert series[0][1][-1] == sum(values[10:])
        # One left over keeps its own name rather than "others".
        shown, _series = charts.top_with_others(names[:11], [("Planned", values[:11])])
        assert shown == names[:11]
    with app.test_request_context(), force_locale("vi"):
        shown, _series = charts.top_with_others(names, [("Planned", values)])
        assert shown[-1] == "Nơi khác (5)"


def test_a_chart_scales_to_its_box_and_carries_its_title_and_figures(app):
    with app.test_request_context(), force_locale("vi"):
        title = "Nội dung đã xong hoặc xong một phần, một tiêu đề rất dài để xuống dòng"
        chart = str(charts.bars(title, [("VNeID", 1234.0), ("Hue-S", 12.0), ("Nothing", 0)]))
    # A caption wraps like any text; the drawings hold no fixed size, only a viewBox.
    assert chart.startswith('<figure class="chart-figure"><figcaption>')
    assert f"<figcaption>{title}</figcaption>" in chart
    drawings = re.findall(r"<svg [^>]*>", chart)
    assert len(drawings) == 2  # the phone's and the screen's
    for opening in drawings:
        assert "viewBox=" in opening and "width=" not in opening and 'role="img"' in opening
        assert f'aria-label="{title}"' in opening
    assert 'class="chart-narrow"' in drawings[0] and 'class="chart-wide"' in drawings[1]
    assert chart.count(f"<title>{title}</title>") == 2
    # The figures in words, in Vietnamese number format; the zero row is not drawn.
    assert "<desc>VNeID: 1.234; Hue-S: 12</desc>" in chart
    assert "Nothing" not in chart
    ticks = re.findall(r">(\d[\d.,]*)</text>", chart)
    assert "1.000" in ticks and "1000" not in ticks
    # leather's own title (one line that is cut off at the edge) is not used.
    assert 'font-size="16"' not in chart


def test_ticks_are_whole_numbers_in_steps_of_one_two_or_five():
    assert charts._nice_ticks(3, 4) == [0, 1, 2, 3]
    assert charts._nice_ticks(23, 5) == [0, 5, 10, 15, 20, 25]
    assert charts._nice_ticks(1234, 4) == [0, 500, 1000, 1500]
    assert charts._nice_ticks(0, 4) == [0, 1]


def test_the_trend_is_per_day_week_or_month_by_the_length_of_the_period():
    assert trend_unit(Period(date(2026, 12, 5), date(2026, 12, 6))) == "day"
    assert trend_unit(Period(date(2026, 11, 1), date(2026, 12, 1))) == "day"
    assert trend_unit(Period(date(2026, 9, 6), date(2026, 12, 4))) == "week"
    assert trend_unit(Period(date(2026, 1, 1), date(2026, 12, 31))) == "month"

    daily = {date(2026, 12, 2): (3, 5), date(2026, 12, 6): (2, 2), date(2026, 12, 7): (1, 4)}
    weeks = Report(Period(date(2026, 11, 1), date(2026, 12, 10)), F(), [], daily=daily)
    unit, buckets = trend(weeks)
    assert unit == "week"
    # Weeks run from Monday; the first and the last are cut to the period; none is skipped.
    assert (buckets[0].first, buckets[0].last) == (date(2026, 11, 1), date(2026, 11, 1))
    assert (buckets[1].first, buckets[1].last) == (date(2026, 11, 2), date(2026, 11, 8))
    assert buckets[-1].last == date(2026, 12, 10)
    by_start = {b.first: (b.served, b.people_helped) for b in buckets}
    assert by_start[date(2026, 11, 30)] == (5, 7)  # Wednesday 2 and Sunday 6 December
    assert by_start[date(2026, 12, 7)] == (1, 4)
    assert by_start[date(2026, 11, 23)] == (0, 0)
    assert sum(b.served for b in buckets) == 6

    months = Report(Period(date(2026, 1, 15), date(2026, 12, 31)), F(), [], daily=daily)
    unit, buckets = trend(months)
    assert unit == "month" and len(buckets) == 12
    assert buckets[-1].first == date(2026, 12, 1) and buckets[-1].served == 6


@pytest.fixture
def demo(session):  # type: ignore[no-untyped-def]
    seed_demo(session, password=PASSWORD)
    session.commit()
    return session


def test_the_trend_counts_each_served_visit_on_its_local_day(demo):
    coordinator = demo.scalars(select(User).where(User.email == COORDINATOR_EMAIL)).one()
    done = demo.scalars(
        select(Visit).where(Visit.status == VisitStatus.DONE).order_by(Visit.id)
    ).first()
    # 06:30 in Huế is 23:30 UTC the day before: the trend counts it on the local day.
    local_day = done.starts_at.astimezone(TZ).date()
    done.starts_at = datetime.combine(local_day, time(6, 30), TZ).astimezone(UTC)
    done.ends_at = done.starts_at + timedelta(minutes=30)
    demo.commit()
    today = datetime.now(TZ).date()
    period = Period(today - timedelta(days=89), today)
    report = build_report(demo, coordinator, period, tz=TZ)
    assert report.total.served > 0
    assert sum(n for n, _p in report.daily.values()) == report.total.served
    assert sum(p for _n, p in report.daily.values()) == report.total.people_helped
    assert local_day in report.daily
    unit, buckets = trend(report)
    assert unit == "week"
    assert sum(b.served for b in buckets) == report.total.served


def test_the_dashboard_shows_the_trend_and_charts_with_a_table_alternative(client, app, demo):
    assert login(client, ADMIN_EMAIL, PASSWORD).status_code == 302
    for lang, heading, per in (
        ("vi", "Theo thời gian", "Theo tuần"),
        ("en", "Over time", "Per week"),
    ):
        page = client.get(f"/reports?lang={lang}").get_data(as_text=True)
        trend_section = page[
            page.index('id="trend"') : page.index("</section>", page.index('id="trend"'))
        ]
        assert heading in trend_section and per in trend_section
        assert trend_section.count("<svg") == 4  # served and people, each for phone and screen
        assert "<details>" in trend_section and "<table" in trend_section
        # Every drawing names itself for screen readers.
        for opening in re.findall(r"<svg [^>]*>", page):
            assert 'role="img"' in opening and "aria-label=" in opening and "width=" not in opening
