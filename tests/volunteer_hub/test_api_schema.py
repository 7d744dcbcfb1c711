"""Schemathesis against /api/v1/openapi.json, with every check: no 500, every answer as
documented, invalid requests refused and valid ones accepted.

The API runs in a real HTTP server (``live_server``) on the test database, so each generated
request goes through the whole stack, as a partner app's would. The document is the one the
app serves; it is read once at collection, from an app on an empty in-memory database.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.config import SchemathesisConfig

from volunteer_hub import create_app
from volunteer_hub.services.reference.accounts import create_api_token


def served_document() -> dict[str, object]:
    """Return /api/v1/openapi.json as the app serves it."""
    app = create_app({"TESTING": True, "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    return app.test_client().get("/api/v1/openapi.json").get_json()


#: Every check runs. Where the database decides what a well-formed request may do, which a
#: schema cannot say, the answer a valid request may rightly get is added, operation by
#: operation, so the check still catches a 400 or 415 (or any other status) to valid data:
#: - a change without If-Match is 428 Precondition Required (RFC 6585), one of the answers to a
#:   missing required header here;
#: - a cursor the API did not give is refused (422): it is opaque, its strings are ours;
#: - a request's commune must exist and its time windows lie ahead (422);
#: - a drive's change needs the ETag last read (412: an ETag cannot be guessed), and its
#:   communes must be the token's (422);
#: - a drive with no team cannot be planned (422);
#: - a report's province and commune must be the token's (422).
ACCEPTED = '"2xx", "3xx", 401, 403, 404, 409, 429'
CONFIG = SchemathesisConfig.from_str(
    f"""
[checks.missing_required_header]
expected-statuses = [400, 401, 403, 406, 415, 422, 428]

[[operations]]
include-operation-id = ["listDrives", "createRequest", "startPlan", "getReportSummary"]
checks.positive_data_acceptance.expected-statuses = [{ACCEPTED}, 422]

[[operations]]
include-operation-id = "updateDrive"
checks.positive_data_acceptance.expected-statuses = [{ACCEPTED}, 412, 422]
"""
)

load_all_checks()
schema = schemathesis.openapi.from_dict(served_document(), config=CONFIG)


@pytest.fixture
def coordinator_token(world, session) -> str:  # type: ignore[no-untyped-def]
    token = create_api_token(session, world.a.coordinator).token
    session.commit()
    return token


@schema.parametrize()
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
def test_every_api_answer_is_documented_and_never_a_server_error(  # type: ignore[no-untyped-def]
    case, live_server, coordinator_token
):
    # Every check schemathesis has (the default ones and the optional ones).
    case.call_and_validate(
        base_url=f"{live_server}/api/v1",
        headers={"Authorization": f"Bearer {coordinator_token}"},
        checks=list(CHECKS.get_all()),
    )
