"""Shared fixtures: a database per test run (SQLite, or PostgreSQL with VH_TEST_DATABASE_URL)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from volunteer_hub import create_app
from volunteer_hub.extensions import db

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "artifacts"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "app_config(**kw): extra Flask config for this test")


def server_url() -> str | None:
    """Return the PostgreSQL server the suite runs against, or None for SQLite."""
    return os.environ.get("VH_TEST_DATABASE_URL") or None


class TestDatabases:
    """Creates throwaway databases on the test server and drops them at the end."""

    def __init__(self, base: str | None, tmp: Path) -> None:
        self.base = base
        self.tmp = tmp
        self.created: list[str] = []

    def new(self, label: str) -> str:
        """Return the URI of a new, empty database."""
        if self.base is None:
            return f"sqlite:///{self.tmp / f'{label}-{uuid.uuid4().hex[:8]}.sqlite3'}"
        name = f"vh_test_{label}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        engine = self._admin()
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
        self.created.append(name)
        url = make_url(self._normalized()).set(database=name)
        return url.render_as_string(hide_password=False)

    def _normalized(self) -> str:
        assert self.base is not None
        base = self.base
        for prefix in ("postgres://", "postgresql://"):
            if base.startswith(prefix):
                base = "postgresql+psycopg://" + base[len(prefix) :]
        return base

    def _admin(self):  # type: ignore[no-untyped-def]
        url = make_url(self._normalized())
        if not url.database:
            url = url.set(database="postgres")
        return create_engine(url, isolation_level="AUTOCOMMIT")

    def drop_all(self) -> None:
        if not self.created:
            return
        engine = self._admin()
        with engine.connect() as conn:
            for name in self.created:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


@pytest.fixture(scope="session")
def databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestDatabases]:
    dbs = TestDatabases(server_url(), tmp_path_factory.mktemp("databases"))
    yield dbs
    dbs.drop_all()


@pytest.fixture(scope="session")
def database_uri(databases: TestDatabases) -> str:
    """A database built once by the migrations and shared by the tests (emptied after each)."""
    uri = databases.new("suite")
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": uri})
    with app.app_context():
        from flask_migrate import upgrade

        upgrade(directory=app.extensions["migrate"].directory)
        db.engine.dispose()
    return uri


def base_config(uri: str) -> dict[str, Any]:
    """Return the test configuration on top of the defaults."""
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": uri,
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_ENABLED": False,
        "SERVER_NAME": None,
        # Quiet hours (21:00-07:00 in Vietnam) are 14:00-24:00 UTC: tests that send by the
        # wall clock must not depend on the hour they run at. Tests of quiet hours set them.
        "SMS_QUIET_HOURS": "",
    }


def _empty_tables() -> None:
    tables = list(reversed(db.metadata.sorted_tables))
    if db.engine.dialect.name == "postgresql":
        names = ", ".join(f'"{t.name}"' for t in tables)
        db.session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    else:
        for table in tables:
            db.session.execute(table.delete())
    db.session.commit()


@pytest.fixture
def app(database_uri: str, request: pytest.FixtureRequest) -> Iterator[Flask]:
    config = base_config(database_uri)
    marker = request.node.get_closest_marker("app_config")
    if marker:
        config.update(marker.kwargs)
    application = create_app(config)
    with application.app_context():
        yield application
        db.session.remove()
        _empty_tables()
        db.session.remove()
        db.engine.dispose()


class IsolatedClient(FlaskClient):
    """A test client whose every request runs in its own app context, as in production.

    The test's own app context (and its database session) stays open around the requests;
    without this, ``g`` and the session would be shared between the test and every request.
    The test's pending changes are committed first so the request sees them, and the test's
    objects are expired afterwards so it sees what the request wrote.
    """

    def open(self, *args: Any, **kwargs: Any):  # type: ignore[no-untyped-def,override]
        db.session.commit()
        with self.application.app_context():
            response = super().open(*args, **kwargs)
        db.session.expire_all()
        return response


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    app.test_client_class = IsolatedClient
    return app.test_client()


@pytest.fixture
def session(app: Flask):  # type: ignore[no-untyped-def]
    return db.session


@pytest.fixture
def artifacts() -> Path:
    """A git-ignored folder for screenshots and other files tests keep."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def world(session):  # type: ignore[no-untyped-def]
    """Two communes, A and B, each with a coordinator and records; plus an admin."""
    from types import SimpleNamespace

    from tests import factories
    from volunteer_hub.models import Role

    prov = factories.province(session, name="Thành phố Huế", short_name="Huế")
    services = factories.catalogue(session)
    a = factories.commune_world(session, prov, "Phường An")
    b = factories.commune_world(session, prov, "Phường Bình")
    admin = factories.user(session, Role.ADMIN, email="admin@example.vn")
    session.commit()
    return SimpleNamespace(a=a, b=b, admin=admin, province=prov, services=services)


def login(client: FlaskClient, email: str, password: str | None = None):  # type: ignore[no-untyped-def]
    """Sign in through the real form and return the response."""
    from tests.factories import PASSWORD

    return client.post(
        "/login", data={"email": email, "password": password or PASSWORD}, follow_redirects=False
    )


# --- real-browser tests ---------------------------------------------------------------------

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture
def live_server(app: Flask, database_uri: str, request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """Serve a second app instance on the test database from a thread; yields its base URL."""
    import threading

    from werkzeug.serving import make_server

    config = base_config(database_uri) | {"WTF_CSRF_ENABLED": True}
    marker = request.node.get_closest_marker("app_config")
    if marker:
        config.update(marker.kwargs)
    served = create_app(config)
    server = make_server("127.0.0.1", 0, served, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        with served.app_context():
            db.engine.dispose()


@pytest.fixture(scope="session")
def chromium():  # type: ignore[no-untyped-def]
    """Debian's Chromium driven by Playwright (never a downloaded browser)."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: CI must install Debian's chromium package")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium chromium-driver)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


def phone(chromium, width: int, height: int):  # type: ignore[no-untyped-def]
    """Yield a touch page of ``width`` x ``height`` CSS px, in Vietnamese, closed afterwards."""
    context = chromium.new_context(
        viewport={"width": width, "height": height},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="vi-VN",
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture
def phone_page(chromium):  # type: ignore[no-untyped-def]
    """A page the size of a cheap Android phone (360x740), in Vietnamese."""
    yield from phone(chromium, 360, 740)


@pytest.fixture
def phone_390(chromium):  # type: ignore[no-untyped-def]
    """A page the size of a common iPhone (390x844), in Vietnamese."""
    yield from phone(chromium, 390, 844)
