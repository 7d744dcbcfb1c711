"""No raw code in the interface: every page, in Vietnamese and in English, shows people words.

The demo's data fills every page (past drives visited and reported, SMS sent and failed, an
audit log); each page the app serves by GET is rendered in both languages, as a coordinator
and as an admin, and its visible text (text nodes, titles, labels, placeholders; exports'
cells) must hold no coded value: no status, SMS kind, audit action or record kind as stored.
"""

from __future__ import annotations

import csv
import enum
import io
import re
from html.parser import HTMLParser
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

import volunteer_hub.models as models
from tests.conftest import login
from volunteer_hub.demo.hue import ADMIN_EMAIL, COORDINATOR_EMAIL, seed_demo
from volunteer_hub.labels import LABELS
from volunteer_hub.models import (
    AuditEvent,
    Drive,
    DriveStatus,
    Hamlet,
    Message,
    Plan,
    User,
    VisitResponse,
)
from volunteer_hub.services.messaging.templates import KINDS

PASSWORD = "demo-password-1"
# Served for programs or machines, not people: their codes are the contract.
SKIPPED_BLUEPRINTS = ("api", "operations", "webhooks")
SKIPPED_ENDPOINTS = {
    "auth.logout",  # would end the session mid-walk
    "public.set_language",  # a redirect that sets a cookie
    "public.vendor",  # third-party files
    # The spreadsheet import pages and templates document the file's format: the codes there
    # are what people type in the columns, on purpose.
    "records.requests_import",
    "records.volunteers_import",
    "records.import_template",
}
# Kinds of files whose text is not read by people (images, programs' JSON).
READ_TYPES = ("text/html", "text/csv")
# Tags whose text people do not read.
HIDDEN_TAGS = {"script", "style", "template", "noscript"}
# Attributes people read (or hear, with a screen reader).
READ_ATTRIBUTES = {"title", "aria-label", "placeholder", "alt"}


def coded_values(session: Any) -> set[str]:
    """Every value the app stores as a code: enums, labelled codes, SMS kinds, audit words."""
    values: set[str] = set()
    for thing in vars(models).values():
        if isinstance(thing, type) and issubclass(thing, enum.Enum) and thing is not enum.Enum:
            values |= {str(member.value) for member in thing}
    for kind in LABELS.values():
        values |= set(kind)
    values |= set(KINDS)
    for column in (AuditEvent.action, AuditEvent.entity, Message.kind):
        values |= {v for v in session.scalars(select(column).distinct()) if v}
    for column in (VisitResponse.action, VisitResponse.scope, VisitResponse.role):
        values |= {v for v in session.scalars(select(column).distinct()) if v}
    # Only words a person could mistake for text; numbers and one-letter codes are not.
    return {v for v in values if isinstance(v, str) and len(v) > 1 and not v.isdigit()}


class _Text(HTMLParser):
    """Collects the text people see or hear on a page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.hidden = 0
        self.texts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in HIDDEN_TAGS:
            self.hidden += 1
        for name, value in attrs:
            if name in READ_ATTRIBUTES and value:
                self.texts.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in HIDDEN_TAGS and self.hidden:
            self.hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self.hidden and data.strip():
            self.texts.append(data)


def visible_texts(body: str, mimetype: str) -> list[str]:
    if mimetype == "text/csv":
        return [cell for row in csv.reader(io.StringIO(body)) for cell in row if cell.strip()]
    parser = _Text()
    parser.feed(body)
    return parser.texts


def raw_codes(texts: list[str], codes: set[str], lang: str) -> list[str]:
    """The texts that show a code: the whole text is one, or it holds one written with _ or .

    In English a one-word code can be the right word ("published", "done"): there only the
    codes no English text contains (``not_home``, ``sat_morning``) count.
    """
    joined = {c for c in codes if "_" in c or "." in c}
    found = []
    for text in texts:
        bare = text.strip().strip(":·,;()[]").strip()
        if bare in (codes if lang == "vi" else joined):
            found.append(bare)
            continue
        for word in re.findall(r"[a-z0-9]+(?:[_.][a-z0-9]+)+", text):
            if word in joined:
                found.append(f"{word} in {text.strip()[:80]!r}")
    return found


def demo_ids(session: Any) -> dict[str, Any]:
    """URL parameters naming demo records: a past drive (visited, reported) and its plan."""
    past = session.scalars(
        select(Drive).where(Drive.status == DriveStatus.COMPLETED).order_by(Drive.id)
    ).first()
    plan = session.scalars(
        select(Plan).where(Plan.drive_id == past.id, Plan.published_at.is_not(None))
    ).first()
    visit = next(v for v in plan.visits if v.team)
    hamlet = session.scalars(
        select(Hamlet).where(Hamlet.commune_id == visit.request.commune_id)
    ).first()
    message = session.scalars(select(Message).order_by(Message.id)).first()
    admin = session.scalars(select(User).where(User.email == ADMIN_EMAIL)).one()
    return {
        "drive_id": past.id,
        "plan_id": plan.id,
        "visit_id": visit.id,
        "request_id": visit.request_id,
        "volunteer_id": visit.team.members[0].id,
        "team_code": visit.team.code,
        "code": visit.request.commune.code,
        "hamlet_id": hamlet.id,
        "message_id": message.id,
        "user_id": admin.id,
        "reference": visit.request.reference,
        "kind": next(iter(KINDS)),
        "locale": "vi",
        "fmt": "csv",
    }


def page_paths(app: Flask, ids: dict[str, Any]) -> list[str]:
    paths = []
    with app.test_request_context():
        from flask import url_for

        for rule in app.url_map.iter_rules():
            blueprint, dot, _name = rule.endpoint.partition(".")
            if (
                not dot
                or blueprint in SKIPPED_BLUEPRINTS
                or rule.endpoint in SKIPPED_ENDPOINTS
                or "GET" not in (rule.methods or ())
                or not set(rule.arguments) <= set(ids)
            ):
                continue
            kind = {"kind": "requests"} if rule.endpoint.startswith("records.") else {}
            paths.append(url_for(rule.endpoint, **{**{a: ids[a] for a in rule.arguments}, **kind}))
    return sorted(set(paths))


@pytest.fixture
def demo(session):  # type: ignore[no-untyped-def]
    seed_demo(session, password=PASSWORD)
    session.commit()
    return session


def test_no_page_shows_a_raw_code_in_either_language(client, app, demo):
    codes = coded_values(demo)
    assert {"scheduled", "not_home", "no_show", "reminder", "update"} & codes  # sanity
    paths = page_paths(app, demo_ids(demo))
    assert len(paths) >= 40
    problems: list[str] = []
    rendered = 0
    for email in (COORDINATOR_EMAIL, ADMIN_EMAIL):
        client = app.test_client()  # one per account, each request in its own app context
        assert login(client, email, PASSWORD).status_code == 302
        for path in paths:
            for lang in ("vi", "en"):
                response = client.get(f"{path}{'&' if '?' in path else '?'}lang={lang}")
                if response.status_code != 200 or response.mimetype not in READ_TYPES:
                    continue
                rendered += 1
                texts = visible_texts(response.get_data(as_text=True), response.mimetype)
                for code in raw_codes(texts, codes, lang):
                    problems.append(f"{lang} {path} ({email}): {code}")
    assert rendered >= 120
    assert not problems, "\n".join(sorted(set(problems)))
