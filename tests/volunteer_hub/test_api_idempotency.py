"""Idempotency-Key on the API's POSTs: a retry gets the first answer and stores nothing new."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests import factories
from volunteer_hub import worker
from volunteer_hub.models import HelpRequest, IdempotencyKey, Plan, Role, utcnow
from volunteer_hub.services import idempotency
from volunteer_hub.services.reference.accounts import create_api_token, create_user


@pytest.fixture
def partner(session, world):  # type: ignore[no-untyped-def]
    user = create_user(
        session, email="hue-s@partner.vn", name="Hue-S", role=Role.PARTNER, password=None
    )
    issued = create_api_token(session, user)
    session.commit()
    return issued


def body(world, **changes):  # type: ignore[no-untyped-def]
    data = {
        "beneficiary_name": "Nguyễn Thị Lan",
        "age_group": "75_plus",
        "situations": ["elderly_alone"],
        "phone": "0912 345 678",
        "commune": world.a.commune.code,
        "house": "3 Lê Lợi",
        "services": ["vneid_activate"],
        "consent": True,
    }
    data.update(changes)
    return data


def post(client, token, data, key=None):  # type: ignore[no-untyped-def]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return client.post("/api/v1/requests", data=json.dumps(data), headers=headers)


def requests_stored(session) -> int:  # type: ignore[no-untyped-def]
    return session.scalar(select(func.count()).select_from(HelpRequest))


def test_a_retry_with_the_same_key_stores_one_request_and_gets_the_first_answer(
    client, world, session, partner
):
    first = post(client, partner.token, body(world), key="order-1")
    assert first.status_code == 201
    stored = requests_stored(session)
    again = post(client, partner.token, body(world), key="order-1")
    assert again.status_code == 201
    assert again.get_data() == first.get_data()
    assert again.headers.get("Location") == first.headers.get("Location")
    assert again.headers["Idempotent-Replayed"] == "true"
    assert requests_stored(session) == stored
    # Without a key, or with another key, a retry is a new call (flagged as a duplicate).
    other = post(client, partner.token, body(world), key="order-2")
    assert other.status_code == 201 and other.get_json()["possible_duplicate"] is True
    assert requests_stored(session) == stored + 1


def test_the_same_key_with_another_body_is_422_and_stores_nothing(client, world, session, partner):
    assert post(client, partner.token, body(world), key="k").status_code == 201
    stored = requests_stored(session)
    reused = post(client, partner.token, body(world, house="5 Lê Lợi"), key="k")
    assert reused.status_code == 422 and reused.mimetype == "application/problem+json"
    assert reused.get_json()["type"] == "urn:volunteer-hub:problem:idempotency-key-reused"
    assert requests_stored(session) == stored


def test_keys_belong_to_a_token(client, world, session, partner):
    other = create_api_token(session, partner.record.user, name="second").token
    session.commit()
    assert post(client, partner.token, body(world), key="same").status_code == 201
    second = post(client, other, body(world), key="same")
    assert second.status_code == 201 and "Idempotent-Replayed" not in second.headers
    assert session.scalar(select(func.count()).select_from(IdempotencyKey)) == 2


def test_a_field_error_is_replayed_too_and_a_bad_key_is_400(client, world, session, partner):
    bad = post(client, partner.token, body(world, phone="12"), key="x1")
    again = post(client, partner.token, body(world, phone="12"), key="x1")
    assert bad.status_code == again.status_code == 422
    assert again.get_json() == bad.get_json()
    assert post(client, partner.token, body(world), key="").status_code == 400
    assert post(client, partner.token, body(world), key="x" * 256).status_code == 400
    assert post(client, partner.token, body(world), key="héllo").status_code == 400


def test_a_call_still_running_with_the_key_is_409(client, world, session, partner):
    print_ = idempotency.fingerprint("POST", "/api/v1/requests", json.dumps(body(world)).encode())
    session.add(
        IdempotencyKey(token_id=partner.record.id, key="busy", fingerprint=print_, status=None)
    )
    session.commit()
    stored = requests_stored(session)
    busy = post(client, partner.token, body(world), key="busy")
    assert busy.status_code == 409 and busy.headers["Retry-After"]
    assert busy.get_json()["type"] == "urn:volunteer-hub:problem:idempotency-key-in-use"
    assert requests_stored(session) == stored


def test_two_calls_racing_with_one_key_store_one_request(
    client, world, session, partner, monkeypatch
):
    first = post(client, partner.token, body(world), key="race")
    stored = requests_stored(session)
    # The second call looks before the first has claimed the key (as a concurrent call does):
    # its insert then meets the unique constraint and it answers with the winner's response.
    real_find = idempotency._find
    calls: list[int] = []

    def _find_missing_once(*args):  # type: ignore[no-untyped-def]
        calls.append(1)
        return None if len(calls) == 1 else real_find(*args)

    monkeypatch.setattr(idempotency, "_find", _find_missing_once)
    second = post(client, partner.token, body(world), key="race")
    assert len(calls) == 2  # the look-up missed, the insert failed, the re-read found it
    assert second.status_code == 201 and second.get_data() == first.get_data()
    assert requests_stored(session) == stored
    assert session.scalar(select(func.count()).select_from(IdempotencyKey)) == 1


def test_a_retried_plan_start_makes_one_plan_version(client, session):
    dw = factories.drive_world(session)
    token = create_api_token(session, dw.coordinator).token
    session.commit()
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "plan-1"}
    url = f"/api/v1/drives/{dw.drive.id}/plans"
    first = client.post(url, json={"time_limit_s": 4}, headers=headers)
    assert first.status_code == 202
    plans = session.scalar(select(func.count()).select_from(Plan))
    again = client.post(url, json={"time_limit_s": 4}, headers=headers)
    assert again.status_code == 202 and again.headers["Location"] == first.headers["Location"]
    assert again.get_json()["id"] == first.get_json()["id"]
    assert session.scalar(select(func.count()).select_from(Plan)) == plans


def test_keys_hold_24_hours_and_the_purge_role_deletes_them(app, client, world, session, partner):
    first = post(client, partner.token, body(world), key="old")
    record = session.scalars(select(IdempotencyKey)).one()
    record.created_at = utcnow() - timedelta(hours=25)
    session.commit()
    stored = requests_stored(session)
    # Past 24 hours the key no longer answers: the call runs again.
    later = post(client, partner.token, body(world), key="old")
    assert later.status_code == 201 and later.get_data() != first.get_data()
    assert requests_stored(session) == stored + 1
    record = session.scalars(select(IdempotencyKey)).one()
    record.created_at = utcnow() - timedelta(hours=25)
    post(client, partner.token, body(world), key="fresh")
    session.commit()
    done = worker.run_once(app, ("purge",))
    assert done["idempotency-expire"] == 1
    assert session.scalars(select(IdempotencyKey.key)).all() == ["fresh"]
    built = worker.build_scheduler(app, roles=("purge",))
    assert {j.id for j in built.scheduler.get_jobs()} == {
        "privacy-purge",
        "idempotency-expire",
        "report-totals",
        "worker-heartbeat",
    }
