"""Reports at national scale: provinces first, then a province's communes, a page at a time."""

from __future__ import annotations

import io
from datetime import datetime, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from tests import factories
from tests.conftest import login
from tests.volunteer_hub.test_report_figures import TZ, _user, _wide, demo, old_build_report
from volunteer_hub.demo.hue import ADMIN_EMAIL, COORDINATOR_EMAIL
from volunteer_hub.models import Commune, Role
from volunteer_hub.services.results.reports import (
    Figures,
    Period,
    build_report,
)

__all__ = ["demo"]

ADDED = (
    "requests_received",
    "follow_ups_received",
    "planned",
    "served",
    "not_home",
    "people_helped",
    "urgent_received",
    "urgent_served",
    "sms_sent",
    "sms_delivered",
    "sms_failed",
)


def _sum(rows: list[Figures]) -> dict[str, object]:
    summed: dict[str, object] = {name: sum(getattr(f, name) for f in rows) for name in ADDED}
    summed["volunteer_hours"] = pytest.approx(sum(f.volunteer_hours for f in rows))
    outcomes: dict[str, dict[str, int]] = {}
    for f in rows:
        for code, counts in f.outcomes.items():
            for outcome, count in counts.items():
                by = outcomes.setdefault(code, {})
                by[outcome] = by.get(outcome, 0) + count
    summed["outcomes"] = outcomes
    return summed


def _figures(f: Figures) -> dict[str, object]:
    return {
        **{name: getattr(f, name) for name in ADDED},
        "volunteer_hours": f.volunteer_hours,
        "outcomes": f.outcomes,
    }


@pytest.mark.parametrize("email", [ADMIN_EMAIL, COORDINATOR_EMAIL])
def test_on_the_demo_provinces_add_up_to_their_communes_and_to_the_totals(demo, email):
    user = _user(demo, email)
    period = _wide(demo)
    report = build_report(demo, user, period, tz=TZ)
    old = old_build_report(demo, user, period, tz=TZ)
    assert report.provinces and report.total.requests_received > 0
    # The summary API's and the exports' report leaves out the trend over time (only the
    # dashboard draws it): the same figures.
    bare = build_report(demo, user, period, tz=TZ, trend=False)
    assert report.daily and not bare.daily
    assert bare.total == report.total and bare.communes == report.communes
    assert bare.provinces == report.provinces
    for province, figures in report.provinces:
        mine = [f for c, f in report.communes if c.province_id == province.id]
        assert mine
        assert _figures(figures) == _sum(mine)
    # All provinces together: today's totals, counted row by row. (SMS about whole drives
    # belong to no commune: the total has them, no province does.)
    summed = _sum([f for _p, f in report.provinces])
    expected = {**_figures(old.total)}
    for name in ("sms_sent", "sms_delivered", "sms_failed"):
        summed.pop(name)
        expected.pop(name)
    assert summed == expected
    if len(report.provinces) == 1:
        only = report.provinces[0][1]
        assert only.volunteers == old.total.volunteers
        assert only.urgent_wait_days == old.total.urgent_wait_days


@pytest.fixture
def nation(session):  # type: ignore[no-untyped-def]
    """Three provinces with requests in each; a coordinator of one commune of Huế."""
    factories.catalogue(session)
    provinces = [
        factories.province(session, code="46", name="Thành phố Huế", short_name="Huế"),
        factories.province(session, code="48", name="Thành phố Đà Nẵng", short_name="Đà Nẵng"),
        factories.province(session, code="01", name="Thành phố Hà Nội", short_name="Hà Nội"),
    ]
    communes = {}
    for n, province in enumerate(provinces):
        communes[province.code] = [
            factories.commune(session, province, name=f"Xã {province.short_name} {k:03d}")
            for k in range(5 + n * 60)  # 5, 65 and 125 communes
        ]
        for k, commune in enumerate(communes[province.code][:5]):
            for _ in range(k + 1):
                factories.help_request(session, commune)
    admin = factories.user(session, Role.ADMIN, email="admin@example.vn")
    coordinator = factories.user(session, Role.COORDINATOR, [communes["46"][0]])
    session.commit()
    today = datetime.now(TZ).date()
    period = Period(today - timedelta(days=30), today + timedelta(days=1))
    return provinces, communes, admin, coordinator, period


def test_province_figures_are_the_sum_of_their_communes(session, nation):
    provinces, communes, admin, _coordinator, period = nation
    report = build_report(session, admin, period, tz=TZ)
    assert [p.name for p, _f in report.provinces] == sorted(p.name for p in provinces)
    for province, figures in report.provinces:
        mine = [f for c, f in report.communes if c.province_id == province.id]
        assert len(mine) == len(communes[province.code])
        assert figures.requests_received == sum(f.requests_received for f in mine) == 15
    assert report.total.requests_received == 45


def test_an_admins_report_of_one_province_counts_only_that_province(session, nation):
    provinces, communes, admin, _coordinator, period = nation
    report = build_report(session, admin, period, tz=TZ, province_code="48")
    assert [p.code for p, _f in report.provinces] == ["48"]
    assert {c.id for c, _f in report.communes} == {c.id for c in communes["48"]}
    assert report.total.requests_received == 15


def _args(period: Period) -> str:
    return f"from={period.first}&to={period.last}"


def test_an_admin_sees_provinces_first_then_a_provinces_communes(client, nation):
    provinces, communes, admin, _coordinator, period = nation
    login(client, admin.email)
    body = client.get(f"/reports?{_args(period)}").get_data(as_text=True)
    assert 'id="by-province"' in body and 'id="by-commune"' not in body
    for province in provinces:
        assert f"province={province.code}" in body
    # No commune is listed before a province is chosen, not even in the filter.
    assert "Xã Hà Nội 000" not in body and "Xã Huế 000" not in body

    body = client.get(f"/reports?province=48&{_args(period)}").get_data(as_text=True)
    assert 'id="by-commune"' in body and 'id="by-province"' not in body
    assert "Xã Đà Nẵng 000" in body
    assert "Xã Huế 000" not in body and "Xã Hà Nội 000" not in body


def test_commune_tables_are_paged_and_show_each_commune_once(client, session, nation):
    _provinces, communes, admin, _coordinator, period = nation
    login(client, admin.email)
    seen: list[str] = []
    for page in (1, 2, 3):
        response = client.get(f"/reports?province=01&page={page}&{_args(period)}")
        assert response.status_code == 200
        body = response.get_data(as_text=True)
        on_page = [c.name for c in communes["01"] if f"<tr><td>{c.name}</td>" in body]
        assert len(on_page) == (50 if page < 3 else 25)
        seen += on_page
        assert ('rel="next"' in body) == (page < 3)
    assert sorted(seen) == sorted(c.name for c in communes["01"])
    assert len(set(seen)) == len(seen) == 125
    for bad in ("4", "0", "abc", "9" * 30):
        response = client.get(f"/reports?province=01&page={bad}&{_args(period)}")
        assert response.status_code == 422


def test_a_coordinator_sees_only_their_commune_and_no_province_step(client, nation):
    _provinces, communes, _admin, coordinator, period = nation
    login(client, coordinator.email)
    body = client.get(f"/reports?{_args(period)}").get_data(as_text=True)
    assert 'id="by-province"' not in body and 'name="province"' not in body
    assert communes["46"][0].name in body
    assert communes["46"][1].name not in body
    response = client.get(f"/reports?province=48&{_args(period)}")
    assert response.status_code == 422
    assert "Xã Đà Nẵng 000" not in response.get_data(as_text=True)


def test_the_excel_report_is_one_workbook_with_provinces_and_communes(client, session, nation):
    provinces, communes, admin, _coordinator, period = nation
    login(client, admin.email)
    response = client.get(f"/reports/export.xlsx?{_args(period)}")
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.data))
    assert [ws.title for ws in book.worksheets] == ["Tổng hợp", "Tỉnh, thành phố", "Xã, phường"]
    rows = list(book.worksheets[1].iter_rows(min_row=7, values_only=True))
    by_name = sorted(provinces, key=lambda p: p.name)
    assert [(r[0], r[1], r[2]) for r in rows] == [(p.code, p.name, 15) for p in by_name]
    commune_rows = list(book.worksheets[2].iter_rows(min_row=7, values_only=True))
    assert len(commune_rows) == sum(len(v) for v in communes.values())
    by_province: dict[str, int] = {}
    names = {c.code: p for p, cs in communes.items() for c in cs}
    for row in commune_rows:
        by_province[names[row[0]]] = by_province.get(names[row[0]], 0) + row[3]
    assert by_province == {"46": 15, "48": 15, "01": 15}
    # One province asked for: its communes only.
    response = client.get(f"/reports/export.xlsx?province=46&{_args(period)}")
    book = load_workbook(io.BytesIO(response.data))
    codes = [r[0] for r in book.worksheets[2].iter_rows(min_row=7, values_only=True)]
    assert sorted(codes) == sorted(c.code for c in communes["46"])
    assert session.scalar(select(Commune).where(Commune.code == codes[0])) is not None


def test_the_excel_reports_names_stay_text_never_formulas_or_links(client, session, nation):
    provinces, _communes, admin, _coordinator, period = nation
    for name in ("=1+2", "http://example.vn/x"):
        factories.help_request(session, factories.commune(session, provinces[0], name=name))
    session.commit()
    login(client, admin.email)
    response = client.get(f"/reports/export.xlsx?{_args(period)}")
    sheet = load_workbook(io.BytesIO(response.data)).worksheets[2]
    cells = {row[1].value: row[1] for row in sheet.iter_rows(min_row=7)}
    for name in ("=1+2", "http://example.vn/x"):
        assert cells[name].data_type == "s" and cells[name].hyperlink is None


def _summary(client, token: str, query: str):  # type: ignore[no-untyped-def]
    return client.get(
        f"/api/v1/reports/summary?{query}", headers={"Authorization": f"Bearer {token}"}
    )


def test_the_summary_api_takes_a_province_within_the_tokens_scope(client, session, nation):
    from volunteer_hub.services.reference.accounts import create_api_token

    provinces, communes, admin, coordinator, period = nation
    admin_token = create_api_token(session, admin).token
    coordinator_token = create_api_token(session, coordinator).token
    session.commit()

    # The whole country: every province, with the same figures as the web report's.
    whole = _summary(client, admin_token, _args(period))
    assert whole.status_code == 200
    body = whole.get_json()
    assert body["province"] is None and body["totals"]["requests_received"] == 45
    assert [p["code"] for p in body["provinces"]] == [
        p.code for p in sorted(provinces, key=lambda p: p.name)
    ]
    assert {p["code"]: p["requests_received"] for p in body["provinces"]} == {
        "46": 15,
        "48": 15,
        "01": 15,
    }
    # The communes a page at a time: 50 unless asked, the count of them all beside.
    assert body["commune_count"] == 195 and len(body["communes"]) == 50
    assert body["next"] is not None

    # One province: its communes only, its totals equal to build_report's.
    one = _summary(client, admin_token, f"province=48&limit=200&{_args(period)}").get_json()
    expected = build_report(session, admin, period, tz=TZ, province_code="48")
    assert one["province"] == "48"
    assert one["totals"] == expected.total.as_json()
    assert [p["code"] for p in one["provinces"]] == ["48"]
    assert {c["code"] for c in one["communes"]} == {c.code for c in communes["48"]}
    assert one["commune_count"] == 65 and one["next"] is None

    # A province and one of its communes; a commune of another province is refused.
    commune = communes["48"][2]
    both = _summary(client, admin_token, f"province=48&commune={commune.code}&{_args(period)}")
    assert both.status_code == 200
    assert both.get_json()["totals"]["requests_received"] == 3
    other = _summary(
        client, admin_token, f"province=48&commune={communes['46'][0].code}&{_args(period)}"
    )
    assert other.status_code == 422 and factories.problem_fields(other) == ["commune"]

    # A coordinator's token: their province only, and no other (nor one that does not exist).
    mine = _summary(client, coordinator_token, f"province=46&{_args(period)}")
    assert mine.status_code == 200
    assert [c["code"] for c in mine.get_json()["communes"]] == [communes["46"][0].code]
    for code in ("48", "99", "x" * 300):
        refused = _summary(client, coordinator_token, f"province={code}&{_args(period)}")
        assert refused.status_code == 422 and factories.problem_fields(refused) == ["province"]
    english = _summary(client, coordinator_token, f"province=48&lang=en&{_args(period)}")
    assert english.get_json()["errors"] == [
        {"field": "province", "message": "This province is not one of yours."}
    ]


def test_the_summarys_communes_page_with_a_cursor_each_once(client, session, nation):
    from volunteer_hub.services.reference.accounts import create_api_token

    provinces, communes, admin, _coordinator, period = nation
    token = create_api_token(session, admin).token
    session.commit()
    report = build_report(session, admin, period, tz=TZ)
    by_code = {c.code: f.as_json() for c, f in report.communes}
    for query, size in ((_args(period), 50), (f"limit=7&{_args(period)}", 7)):
        seen: list[str] = []
        url: str | None = f"/api/v1/reports/summary?{query}"
        pages = 0
        while url:
            response = client.get(url, headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 200, response.get_data(as_text=True)
            body = response.get_json()
            # Every page keeps the totals and the provinces, and the period asked for.
            assert body["totals"] == report.total.as_json()
            assert [p["code"] for p in body["provinces"]] == [p.code for p, _f in report.provinces]
            assert body["period"] == {"from": str(period.first), "to": str(period.last)}
            assert body["commune_count"] == 195 and len(body["communes"]) <= size
            for row in body["communes"]:
                assert {k: v for k, v in row.items() if k not in ("code", "name")} == by_code[
                    row["code"]
                ]
            seen += [row["code"] for row in body["communes"]]
            url = body["next"]
            if url:
                assert response.headers["Link"] == f'<{url}>; rel="next"'
                assert f"from={period.first}" in url and f"to={period.last}" in url
            else:
                assert "Link" not in response.headers
            pages += 1
        # Every commune exactly once, in id order (descending), none skipped.
        assert len(seen) == len(set(seen)) == 195 and set(seen) == set(by_code)
        ids = {c.code: c.id for cs in communes.values() for c in cs}
        assert [ids[code] for code in seen] == sorted(ids.values(), reverse=True)
        assert pages == -(-195 // size)

    # A province's communes page too, and the next page keeps the province.
    first = _summary(client, token, f"province=01&limit=100&{_args(period)}").get_json()
    assert "province=01" in first["next"] and first["commune_count"] == 125
    rest = client.get(first["next"], headers={"Authorization": f"Bearer {token}"}).get_json()
    codes = [c["code"] for c in first["communes"] + rest["communes"]]
    assert sorted(codes) == sorted(c.code for c in communes["01"]) and rest["next"] is None


def test_the_summarys_bad_page_is_a_clear_field_error(client, session, nation):
    from volunteer_hub.services.reference.accounts import create_api_token
    from volunteer_hub.web.paging import encode_cursor

    _provinces, _communes, admin, _coordinator, period = nation
    token = create_api_token(session, admin).token
    session.commit()
    for query, fields in (
        ("cursor=nope", ["cursor"]),
        ("cursor=" + encode_cursor(-5), ["cursor"]),
        ("cursor=" + "A" * 500, ["cursor"]),
        ("limit=0", ["limit"]),
        ("limit=201", ["limit"]),
        ("limit=%EF%BC%93", ["limit"]),
        ("limt=5", ["limt"]),
        # Every mistake at once: the page's and the period's.
        ("limit=x&from=2026-13-01", ["from", "limit"]),
    ):
        response = _summary(client, token, query)
        assert response.status_code == 422, query
        assert sorted(factories.problem_fields(response)) == fields, query
    english = _summary(client, token, f"cursor=nope&lang=en&{_args(period)}")
    assert english.get_json()["errors"] == [
        {
            "field": "cursor",
            "message": "This cursor is not one we gave; start again from the first page.",
        }
    ]


def test_the_openapi_documents_the_summarys_province(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    parameters = spec["paths"]["/reports/summary"]["get"]["parameters"]
    assert {"province", "limit", "cursor"} <= {p["name"] for p in parameters}
    limit = next(p for p in parameters if p["name"] == "limit")["schema"]
    assert (limit["minimum"], limit["maximum"]) == (1, 200)
    properties = spec["components"]["schemas"]["Summary"]["properties"]
    assert {"provinces", "communes", "commune_count", "next"} <= set(properties)
    answer = spec["paths"]["/reports/summary"]["get"]["responses"]["200"]
    assert "Link" in answer["headers"]
