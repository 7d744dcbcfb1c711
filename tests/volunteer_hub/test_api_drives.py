"""One drive through the API: read it with an ETag, change it with If-Match (412, 428)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from tests import factories
from tests.factories import problem_fields
from volunteer_hub.extensions import db
from volunteer_hub.models import Drive, DriveStatus
from volunteer_hub.services.reference.accounts import create_api_token
from volunteer_hub.web import api
from volunteer_hub.web.api_models import DriveDetail


@pytest.fixture
def dw(session):  # type: ignore[no-untyped-def]
    return factories.drive_world(session)


@pytest.fixture
def token(session, dw):  # type: ignore[no-untyped-def]
    value = create_api_token(session, dw.coordinator).token
    session.commit()
    return {"Authorization": f"Bearer {value}"}


def url(dw) -> str:  # type: ignore[no-untyped-def]
    return f"/api/v1/drives/{dw.drive.id}"


def test_a_drive_reads_with_its_days_plans_counts_and_an_etag(client, dw, token):
    read = client.get(url(dw), headers=token)
    assert read.status_code == 200
    body = read.get_json()
    DriveDetail.model_validate(body)  # the documented shape
    assert body["name"] == "Chủ nhật số thử" and body["status"] == "draft" and body["editable"]
    assert body["communes"] == [dw.commune.code]
    assert body["days"] == [factories.next_saturday().isoformat()]
    assert body["blocks"] == [{"day": body["days"][0], "start": "07:30", "end": "11:00"}]
    assert body["current_plan"] is None and body["published_plan"] is None
    assert body["counts"]["requests"] == 8
    assert body["counts"]["volunteers_accepted"] == body["counts"]["volunteers_invited"] == 4
    assert body["counts"]["teams"] == 2 and body["counts"]["plans"] == 0
    etag = read.headers["ETag"]
    assert etag.startswith('"')
    cached = client.get(url(dw), headers={**token, "If-None-Match": etag})
    assert cached.status_code == 304 and cached.data == b"" and cached.headers["ETag"] == etag


def test_another_communes_coordinator_gets_404(client, session, dw, world):
    other = create_api_token(session, world.b.coordinator).token
    session.commit()
    answer = client.get(url(dw), headers={"Authorization": f"Bearer {other}"})
    assert answer.status_code == 404
    assert answer.mimetype == "application/problem+json"
    changed = client.patch(
        url(dw), json={"name": "x"}, headers={"Authorization": f"Bearer {other}", "If-Match": "*"}
    )
    assert changed.status_code == 404


def test_a_change_with_the_current_etag_is_saved_and_gets_a_new_etag(client, session, dw, token):
    etag = client.get(url(dw), headers=token).headers["ETag"]
    changed = client.patch(
        url(dw),
        json={"name": "Chủ nhật số, đợt 2", "team_size": 1, "notes": "Mang thêm sạc"},
        headers={**token, "If-Match": etag},
    )
    assert changed.status_code == 200, changed.get_json()
    body = changed.get_json()
    assert body["name"] == "Chủ nhật số, đợt 2" and body["team_size"] == 1
    assert body["blocks"][0]["start"] == "07:30"  # the fields left out keep their value
    assert changed.headers["ETag"] != etag
    assert client.get(url(dw), headers=token).headers["ETag"] == changed.headers["ETag"]
    drive = session.get(Drive, dw.drive.id)
    assert drive.name == "Chủ nhật số, đợt 2" and drive.notes == "Mang thêm sạc"
    # The old ETag is stale now: the second writer is refused, nothing is written.
    again = client.patch(url(dw), json={"name": "Cũ"}, headers={**token, "If-Match": etag})
    assert again.status_code == 412
    assert again.get_json()["type"] == "urn:volunteer-hub:problem:stale"
    assert session.get(Drive, dw.drive.id).name == "Chủ nhật số, đợt 2"


def test_a_change_without_if_match_is_428_and_a_weak_etag_never_matches(client, session, dw, token):
    missing = client.patch(url(dw), json={"name": "Mù"}, headers=token)
    assert missing.status_code == 428
    assert missing.get_json()["type"] == "urn:volunteer-hub:problem:precondition-required"
    etag = client.get(url(dw), headers=token).headers["ETag"]
    weak = client.patch(url(dw), json={"name": "Yếu"}, headers={**token, "If-Match": f"W/{etag}"})
    assert weak.status_code == 412
    assert session.get(Drive, dw.drive.id).name == "Chủ nhật số thử"
    listed = client.patch(
        url(dw), json={"name": "Danh sách"}, headers={**token, "If-Match": f'"old", {etag}'}
    )
    assert listed.status_code == 200


def test_a_change_made_elsewhere_since_the_read_is_412(client, session, dw, token):
    etag = client.get(url(dw), headers=token).headers["ETag"]
    # Another coordinator saves the drive (from the web form): its row version moves on.
    session.execute(update(Drive).where(Drive.id == dw.drive.id).values(name="Đổi trên web"))
    session.execute(
        update(Drive).where(Drive.id == dw.drive.id).values(row_version=Drive.row_version + 1)
    )
    session.commit()
    stale = client.patch(url(dw), json={"team_size": 1}, headers={**token, "If-Match": etag})
    assert stale.status_code == 412
    assert session.get(Drive, dw.drive.id).team_size == 2


def test_a_change_committed_between_the_check_and_the_write_is_412(
    client, session, dw, token, monkeypatch
):
    etag = client.get(url(dw), headers=token).headers["ETag"]
    saving = api.save_drive

    def concurrent_save(*args, **kwargs):  # type: ignore[no-untyped-def]
        with db.engine.begin() as other:
            other.execute(
                update(Drive)
                .where(Drive.id == dw.drive.id)
                .values(name="Người khác", row_version=Drive.row_version + 1)
            )
        return saving(*args, **kwargs)

    monkeypatch.setattr(api, "save_drive", concurrent_save)
    later = (factories.next_saturday() + timedelta(days=7)).isoformat()
    answer = client.patch(
        url(dw),
        json={"blocks": [{"day": later, "start": "08:00", "end": "10:00"}]},
        headers={**token, "If-Match": etag},
    )
    assert answer.status_code == 412
    session.expire_all()
    drive = session.get(Drive, dw.drive.id)
    assert drive.name == "Người khác"
    assert [b.starts_at.hour for b in drive.blocks] == [0]  # 07:30 local kept, not 08:00


def test_bad_fields_are_422_each_named_and_nothing_is_written(client, session, dw, token, world):
    etag = client.get(url(dw), headers=token).headers["ETag"]
    bad = client.patch(
        url(dw),
        json={"team_size": 3, "name": "", "communes": [world.b.commune.code]},
        headers={**token, "If-Match": etag},
    )
    assert bad.status_code == 422
    assert set(problem_fields(bad)) >= {"team_size", "name"}
    foreign = client.patch(
        url(dw), json={"communes": [world.b.commune.code]}, headers={**token, "If-Match": etag}
    )
    assert foreign.status_code == 422 and problem_fields(foreign) == ["communes"]
    unknown = client.patch(
        url(dw), json={"status": "published"}, headers={**token, "If-Match": etag}
    )
    assert unknown.status_code == 422 and problem_fields(unknown) == ["status"]
    # JSON's own types, as the document says (found by schemathesis): 0 is not false.
    loose = client.patch(
        url(dw),
        json={"unaccented_sms": 0, "team_size": "1"},
        headers={**token, "If-Match": etag},
    )
    assert loose.status_code == 422
    assert set(problem_fields(loose)) == {"unaccented_sms", "team_size"}
    # A body no drive could take is 422 whatever the ETag: the 412 is for good changes only.
    assert (
        client.patch(url(dw), json={"team_size": 3}, headers={**token, "If-Match": '"x"'})
    ).status_code == 422
    not_object = client.patch(url(dw), json=[1], headers={**token, "If-Match": etag})
    assert not_object.status_code == 422
    not_json = client.patch(
        url(dw), data="name=x", content_type="text/plain", headers={**token, "If-Match": etag}
    )
    assert not_json.status_code == 415
    drive = session.get(Drive, dw.drive.id)
    assert drive.team_size == 2 and drive.name == "Chủ nhật số thử"
    assert client.get(url(dw), headers=token).headers["ETag"] == etag


def test_a_published_drive_can_no_longer_change(client, session, dw, token):
    session.execute(
        update(Drive).where(Drive.id == dw.drive.id).values(status=DriveStatus.PUBLISHED)
    )
    session.commit()
    read = client.get(url(dw), headers=token)
    assert read.get_json()["editable"] is False
    refused = client.patch(
        url(dw), json={"name": "Muộn"}, headers={**token, "If-Match": read.headers["ETag"]}
    )
    assert refused.status_code == 422 and problem_fields(refused) == ["_form"]
    assert session.scalar(select(Drive.name).where(Drive.id == dw.drive.id)) == "Chủ nhật số thử"


def test_the_openapi_document_describes_the_drive_and_its_change(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    drive = spec["paths"]["/drives/{drive_id}"]
    assert "ETag" in drive["get"]["responses"]["200"]["headers"]
    assert "304" in drive["get"]["responses"]
    patch = drive["patch"]
    assert {"412", "428", "422"} <= set(patch["responses"])
    assert {"name": "If-Match", "required": True}.items() <= next(
        p for p in patch["parameters"] if p["name"] == "If-Match"
    ).items()
