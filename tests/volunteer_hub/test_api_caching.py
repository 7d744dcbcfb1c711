"""The API's caching headers and limits: no-store everywhere, ETags, a budget per token."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from tests.volunteer_hub.test_api_requests import partner_token, submit
from volunteer_hub.models import Plan
from volunteer_hub.services.reference.accounts import create_api_token


@pytest.fixture
def token(session, world):  # type: ignore[no-untyped-def]
    value = create_api_token(session, world.a.coordinator).token
    session.commit()
    return {"Authorization": f"Bearer {value}"}


def test_every_api_answer_is_no_store_errors_included(client, world, token):
    plan = f"/api/v1/plans/{world.a.plan.id}"
    for method, url, headers, status in (
        ("get", "/api/v1/me", token, 200),
        ("get", "/api/v1/drives", token, 200),
        ("get", plan, token, 200),
        ("get", "/api/v1/openapi.json", {}, 200),
        ("get", "/api/v1/drives", {}, 401),
        ("get", "/api/v1/drives?limit=0", token, 422),
        ("get", "/api/v1/plans/999999", token, 404),
        ("get", "/api/v1/no-such-thing", token, 404),
        ("delete", "/api/v1/drives", token, 405),
        ("post", "/api/v1/requests", token, 415),
    ):
        response = getattr(client, method)(url, headers=headers)
        assert response.status_code == status, url
        assert response.headers["Cache-Control"] == "no-store", url
    # Web pages keep their own rule (the public home page may be cached).
    assert client.get("/").headers.get("Cache-Control") != "no-store"


@pytest.mark.app_config(RATELIMIT_ENABLED=True, RATELIMIT_API="2 per minute")
def test_a_429_is_no_store_too(client, world, token):
    answers = [client.get("/api/v1/me", headers=token) for _ in range(3)]
    assert answers[-1].status_code == 429
    assert answers[-1].headers["Cache-Control"] == "no-store"


@pytest.mark.app_config(RATELIMIT_ENABLED=True, RATELIMIT_API="2 per minute")
def test_each_token_has_its_own_budget_from_one_address(client, session, world):
    first = {"Authorization": f"Bearer {create_api_token(session, world.a.coordinator).token}"}
    second = {"Authorization": f"Bearer {create_api_token(session, world.b.coordinator).token}"}
    session.commit()
    assert [client.get("/api/v1/me", headers=first).status_code for _ in range(3)] == [
        200,
        200,
        429,
    ]
    # Same address, another token: a full budget of its own.
    assert [client.get("/api/v1/me", headers=second).status_code for _ in range(3)] == [
        200,
        200,
        429,
    ]
    # Anonymous calls are keyed by address, apart from the tokens' budgets.
    assert [client.get("/api/v1/openapi.json").status_code for _ in range(3)] == [200, 200, 429]
    other = {"REMOTE_ADDR": "10.9.8.7"}
    assert client.get("/api/v1/openapi.json", environ_base=other).status_code == 200
    # An unknown token counts as anonymous: it cannot buy a fresh budget per made-up value.
    made_up = {"Authorization": "Bearer nope"}
    assert client.get("/api/v1/openapi.json", headers=made_up).status_code == 429


def test_the_rate_key_is_the_token_id_never_the_token(app, session, world):
    from volunteer_hub.web.tokens import api_rate_key

    created = create_api_token(session, world.a.coordinator)
    session.commit()
    auth = {"Authorization": f"Bearer {created.token}"}
    with app.app_context(), app.test_request_context("/api/v1/me", headers=auth):
        key = api_rate_key()
    assert created.token not in key and key.startswith("token:")
    anonymous = {"REMOTE_ADDR": "10.1.2.3"}
    with app.app_context(), app.test_request_context("/api/v1/me", environ_base=anonymous):
        assert api_rate_key() == "address:10.1.2.3"


def test_a_plan_has_a_strong_etag_and_if_none_match_gives_304(client, session, world, token):
    url = f"/api/v1/plans/{world.a.plan.id}"
    first = client.get(url, headers=token)
    etag = first.headers["ETag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    again = client.get(url, headers={**token, "If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    assert again.headers["ETag"] == etag and again.headers["Cache-Control"] == "no-store"
    listed = client.get(url, headers={**token, "If-None-Match": f'"other", {etag}'})
    assert listed.status_code == 304
    # Progress is written without a new row version: the ETag follows what is read.
    session.execute(
        update(Plan).where(Plan.id == world.a.plan.id).values(progress={"elapsed_s": 9.5})
    )
    session.commit()
    changed = client.get(url, headers={**token, "If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert changed.get_json()["progress"]["elapsed_s"] == 9.5


def test_a_request_read_back_has_an_etag(client, session, world):
    _user, headers = partner_token(session)
    location = submit(client, headers, world.a.commune.code).headers["Location"]
    read = client.get(location, headers=headers)
    assert read.status_code == 200 and read.headers["ETag"]
    cached = client.get(location, headers={**headers, "If-None-Match": read.headers["ETag"]})
    assert cached.status_code == 304 and cached.data == b""
    stale = client.get(location, headers={**headers, "If-None-Match": '"stale"'})
    assert stale.status_code == 200 and stale.get_json() == read.get_json()


def test_errors_carry_no_etag(client, token):
    missing = client.get("/api/v1/plans/999999", headers={**token, "If-None-Match": "*"})
    assert missing.status_code == 404 and "ETag" not in missing.headers


def test_the_openapi_document_describes_etags_and_304(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    for path in ("/requests/{reference}", "/plans/{plan_id}", "/plans/{plan_id}/problem"):
        get = spec["paths"][path]["get"]
        assert "If-None-Match" in [p["name"] for p in get["parameters"]], path
        assert "ETag" in get["responses"]["200"]["headers"], path
        assert "ETag" in get["responses"]["304"]["headers"], path
