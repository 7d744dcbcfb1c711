"""Faults while serving: the database goes away and comes back.

The database is reached through a TCP proxy that can be cut, which is what the app sees when
PostgreSQL stops (open connections reset, new ones refused) and starts again, without
stopping the server other tests use.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from flask_migrate import upgrade
from sqlalchemy import create_engine, select
from sqlalchemy.engine import make_url

from tests import factories
from tests.conftest import base_config, server_url
from tests.fakes import CuttableProxy
from tests.volunteer_hub.test_intake import form
from volunteer_hub import create_app
from volunteer_hub.extensions import db
from volunteer_hub.models import HelpRequest

pytestmark = pytest.mark.skipif(
    server_url() is None, reason="needs PostgreSQL (VH_TEST_DATABASE_URL)"
)


def seeded_database(databases) -> tuple[str, SimpleNamespace]:  # type: ignore[no-untyped-def]
    """A new database, upgraded, with one commune the form can be posted for."""
    uri = databases.new("fault")
    app = create_app(base_config(uri))
    with app.app_context():
        upgrade(directory=app.extensions["migrate"].directory)
        prov = factories.province(db.session, name="Thành phố Huế", short_name="Huế")
        factories.catalogue(db.session)
        part = factories.commune_world(db.session, prov, "Phường An")
        world = SimpleNamespace(
            a=SimpleNamespace(
                commune=SimpleNamespace(code=part.commune.code),
                hamlet=SimpleNamespace(id=part.hamlet.id),
            )
        )
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return uri, world


def stored_requests(uri: str) -> list:  # type: ignore[type-arg]
    """Every stored request, oldest first, read on a connection of its own."""
    engine = create_engine(make_url(uri))
    try:
        with engine.connect() as conn:
            return list(
                conn.execute(
                    select(
                        HelpRequest.reference, HelpRequest.beneficiary_name, HelpRequest.commune_id
                    ).order_by(HelpRequest.id)
                )
            )
    finally:
        engine.dispose()


def test_postgresql_stopping_gives_503_then_the_app_recovers_with_nothing_half_written(databases):  # type: ignore[no-untyped-def]
    uri, world = seeded_database(databases)
    before = len(stored_requests(uri))
    direct = make_url(uri)
    with CuttableProxy((direct.host or "127.0.0.1", direct.port or 5432)) as proxy:
        proxied = direct.set(host="127.0.0.1", port=proxy.port).render_as_string(
            hide_password=False
        )
        app = create_app(base_config(proxied) | {"DATABASE_CONNECT_TIMEOUT_S": 2})
        client = app.test_client()
        try:
            assert client.get("/healthz").status_code == 200
            assert client.post("/request", data=form(world)).status_code == 302

            proxy.cut()  # the server stops: pooled connections die, new ones are refused
            down = client.get("/healthz")
            assert down.status_code == 503 and down.get_json()["database"] == "error"
            assert down.headers["Retry-After"] == "30"
            refused = client.post("/request", data=form(world, beneficiary_name="Lê Văn Tám"))
            assert refused.status_code == 503
            assert refused.headers["Retry-After"]
            assert client.get("/request").status_code == 503

            proxy.restore()  # the server is back: the pool reconnects on the next request
            assert client.get("/healthz").status_code == 200
            again = client.post("/request", data=form(world, beneficiary_name="Phan Thị Mai"))
            assert again.status_code == 302
        finally:
            with app.app_context():
                db.engine.dispose()

    rows = stored_requests(uri)
    names = sorted(r.beneficiary_name for r in rows[before:])
    # The request sent while the database was down is not there, not even in part.
    assert names == ["Nguyễn Thị Hoa", "Phan Thị Mai"]
    assert all(r.reference and r.commune_id for r in rows)
