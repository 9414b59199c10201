"""Fixtures of the export tests: the server's database opened in-process, so a test runs
the export job at a time it chooses (the server's own job is off: it runs with the
billing clock, whose interval is 0 in tests)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest

import meterline.db.models  # noqa: F401 - every table mapped, as in the server
from meterline.db.engine import Database
from meterline.exports.job import ExportJob, ExportReport
from meterline.settings import Settings
from tests.conftest import Server


@pytest.fixture(scope="module")
def server_db(server: Server) -> Iterator[Database]:
    db = Database.connect(Settings(database_url=server.database_url))
    yield db
    db.dispose()


def run_exports(db: Database, now: datetime | None = None) -> ExportReport:
    """One tick of the export job, as the server runs it."""
    return ExportJob(db, interval=0).run_once(now)
