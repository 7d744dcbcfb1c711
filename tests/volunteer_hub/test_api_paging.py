"""Cursor paging on the API's lists: every row once while rows are added, no plan JSON loaded."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import event

from tests import factories
from tests.factories import problem_fields
from volunteer_hub.extensions import db
from volunteer_hub.models import Plan
from volunteer_hub.services.reference.accounts import create_api_token
from volunteer_hub.web.paging import encode_cursor


@pytest.fixture
def token(session, world):  # type: ignore[no-untyped-def]
    value = create_api_token(session, world.a.coordinator).token
    session.commit()
    return {"Authorization": f"Bearer {value}"}


def test_paging_visits_every_drive_once_while_drives_are_added(client, session, world, token):
    for _ in range(7):
        factories.drive(session, [world.a.commune])
    session.commit()
    expected = [d["id"] for d in client.get("/api/v1/drives", headers=token).get_json()["drives"]]
    assert len(expected) >= 8 and expected == sorted(expected, reverse=True)

    seen: list[int] = []
    url: str | None = "/api/v1/drives?limit=3"
    pages = 0
    while url:
        response = client.get(url, headers=token)
        assert response.status_code == 200
        body = response.get_json()
        assert len(body["drives"]) <= 3
        seen.extend(d["id"] for d in body["drives"])
        url = body["next"]
        if url:
            assert response.headers["Link"] == f'<{url}>; rel="next"'
        else:
            assert "Link" not in response.headers
        # A drive is added between every two pages: it is newer, so it never shifts the rest.
        factories.drive(session, [world.a.commune])
        session.commit()
        pages += 1
    assert seen == expected  # each once, in order, none skipped
    assert pages == -(-len(expected) // 3)


def test_the_cursor_is_opaque_and_bad_paging_is_a_field_error(client, session, world, token):
    factories.drive(session, [world.a.commune])
    session.commit()
    first = client.get("/api/v1/drives?limit=1", headers=token).get_json()
    cursor = parse_qs(urlsplit(first["next"]).query)["cursor"][0]
    assert not cursor.isdigit()
    for query, field in (
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("limit=ten", "limit"),
        ("limit=%EF%BC%93", "limit"),  # a full-width digit
        ("cursor=nope", "cursor"),
        ("cursor=" + encode_cursor(-5), "cursor"),
        ("cursor=" + "A" * 500, "cursor"),
        ("limt=5", "limt"),
    ):
        response = client.get(f"/api/v1/drives?{query}", headers=token)
        assert response.status_code == 422, query
        assert problem_fields(response) == [field]


def test_the_drives_list_never_loads_plan_json(client, session, world, token):
    statements: list[str] = []

    def capture(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        statements.append(statement.replace('"', ""))

    event.listen(db.engine, "before_cursor_execute", capture)
    try:
        body = client.get("/api/v1/drives", headers=token).get_json()
    finally:
        event.remove(db.engine, "before_cursor_execute", capture)
    listed = {p["id"] for d in body["drives"] for p in d["plans"]}
    assert world.a.plan.id in listed
    plan_reads = [s for s in statements if "FROM plan" in s]
    assert plan_reads, statements
    for statement in plan_reads:
        for column in ("plan.problem", "plan.result", "plan.progress", "plan.params"):
            assert column not in statement, statement
    assert session.get(Plan, world.a.plan.id) is not None
