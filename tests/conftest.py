"""Fixtures shared by every test folder: stores on SQLite and on the real PostgreSQL."""

from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from alerts.plugins import register_plugins
from tests.servers import http_receiver, make_alert, smtp_server, smtp_server_auth  # noqa: F401  (fixtures)

PG_URL = os.environ.get("LOANWATCH_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session", autouse=True)
def apprise_plugins() -> None:
    """Loanwatch's apprise schemes, registered as every entry point does at start-up (tests call channels directly)."""
    register_plugins()


@pytest.fixture
def pg_url():
    """A fresh, empty PostgreSQL database for one test, dropped afterwards.

    Never skipped: CI has the server, and a store test that silently does not
    run on PostgreSQL proves nothing about production.
    """
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    name = f"lw_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path / 'loanwatch.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    """Runs a test once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'loanwatch.db'}"
    return request.getfixturevalue("pg_url")
