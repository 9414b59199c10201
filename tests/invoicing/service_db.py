"""A migrated database of its own (SQLite, and PostgreSQL when configured) for tests that
drive the billing services in-process: property tests that need a controlled clock."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from meterline.accounts.principal import Principal
from meterline.db.engine import Database
from meterline.settings import Settings
from tests.conftest import POSTGRES_URL, _postgres_database


@dataclass
class ServiceDb:
    db: Database
    principal: Principal


@pytest.fixture(scope="module", params=["sqlite"] + (["postgres"] if POSTGRES_URL else []))
def service_db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceDb]:
    from meterline.accounts import service as accounts
    from meterline.db.migrate import upgrade

    root = tmp_path_factory.mktemp("service-db")
    with contextlib.ExitStack() as stack:
        if request.param == "postgres":
            url = stack.enter_context(contextlib.contextmanager(_postgres_database)(root))
        else:
            url = f"sqlite:///{root / 'meterline.db'}"
        upgrade(url)
        db = Database.connect(Settings(database_url=url))
        stack.callback(db.dispose)
        with db.session() as session:
            account = accounts.ensure_default_account(session)
            principal = Principal(
                organization_id=account.organization.id,
                environment_id=account.environment.id,
                key_id="test",
                user_id=account.user.id,
                scopes=frozenset({"*"}),
            )
        yield ServiceDb(db, principal)
