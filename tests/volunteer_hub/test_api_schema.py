"""Schemathesis against /api/v1/openapi.json: no 500, and every answer matches the document.

The API runs in a real HTTP server (``live_server``) on the test database, so each generated
request goes through the whole stack, as a partner app's would. The document is the one the
app serves; it is read once at collection, from an app on an empty in-memory database.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import positive_data_acceptance
from schemathesis.config import SchemathesisConfig

from volunteer_hub import create_app
from volunteer_hub.services.reference.accounts import create_api_token


def served_document() -> dict[str, object]:
    """Return /api/v1/openapi.json as the app serves it."""
    app = create_app({"TESTING": True, "SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    return app.test_client().get("/api/v1/openapi.json").get_json()


#: A change without If-Match is 428 Precondition Required (RFC 6585), which is what that status
#: is for: it is one of the answers to a missing required header here.
CONFIG = SchemathesisConfig.from_str(
    """
[checks.missing_required_header]
expected-statuses = [400, 401, 403, 406, 415, 422, 428]
"""
)

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
    # Every default check but "a schema-valid request is accepted": the API rightly answers
    # 4xx to well-formed data that breaks a rule the schema cannot say (a drive of another
    # commune, a time window in the past, a drive with no team to plan for).
    case.call_and_validate(
        base_url=f"{live_server}/api/v1",
        headers={"Authorization": f"Bearer {coordinator_token}"},
        excluded_checks=[positive_data_acceptance],
    )
