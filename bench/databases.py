"""Throwaway databases for the benchmarks: a SQLite file, or a new PostgreSQL database."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url


def driver_url(url: str) -> str:
    """Return ``url`` with the psycopg 3 driver named, as the app configures it."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


class Database:
    """A throwaway database: a SQLite file, or a new database on a PostgreSQL server."""

    def __init__(self, server: str | None, folder: Path) -> None:
        self.server = server
        self.folder = folder
        self.name: str | None = None

    def create(self) -> str:
        """Create the database and return its URI."""
        label = uuid.uuid4().hex[:8]
        if not self.server:
            return f"sqlite:///{self.folder / f'bench-{label}.sqlite3'}"
        self.name = f"vh_bench_{os.getpid()}_{label}"
        admin = create_engine(self._admin_url(), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{self.name}"'))
        admin.dispose()
        return (
            make_url(driver_url(self.server))
            .set(database=self.name)
            .render_as_string(hide_password=False)
        )

    def drop(self) -> None:
        """Drop the PostgreSQL database (a SQLite file goes with its folder)."""
        if self.server and self.name:
            admin = create_engine(self._admin_url(), isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
            admin.dispose()
            self.name = None

    def _admin_url(self) -> str:
        assert self.server
        url = make_url(driver_url(self.server))
        return url.set(database=url.database or "postgres").render_as_string(hide_password=False)
