"""The entitlement read model's declared reads (``entitlements/reads.py``) are the truth.

* What a principal and a snapshot build actually read, recorded statement by statement on
  the connection, is declared (so a new join in ``checks.customer_access`` that reads an
  undeclared table fails here, not as a stale check in production).
* Nothing writes a declared table where the watch cannot see it: no raw SQL text writes one
  (the watch sees SQLAlchemy insert/update/delete statements only), and Core DML on one is
  issued only by the package that owns its model.
* The watch is derived from the declaration: a declared table's write moves a version, an
  undeclared one's does not.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from sqlalchemy import event, update

from meterline.db import catalog_version
from meterline.db import models as all_tables
from meterline.db.engine import Database
from meterline.entitlements.read_model import HotReads, Reader
from meterline.entitlements.reads import READS, TABLES
from meterline.settings import Settings
from tests.api.flexprice.test_checks import _setup
from tests.conftest import Tenant

SRC = Path(__file__).resolve().parents[2] / "src" / "meterline"
_FROM = re.compile(r'\b(?:FROM|JOIN)\s+"?([a-z_][a-z0-9_]*)"?', re.IGNORECASE)
_WRITE = re.compile(
    r'\b(?:INSERT\s+(?:OR\s+\w+\s+)?INTO|UPDATE|DELETE\s+FROM)\s+"?([a-z_][a-z0-9_]*)"?',
    re.IGNORECASE,
)


def tables_read(sql: str) -> set[str]:
    return {name.lower() for name in _FROM.findall(sql)}


def test_the_sql_parser_of_these_tests_finds_tables() -> None:
    # The recorder below is only as good as this: joins, quoting, subqueries.
    sql = (
        'SELECT a.id FROM customers AS a JOIN "subscriptions" ON x LEFT OUTER JOIN plans p ON y'
        " WHERE a.id IN (SELECT id FROM entitlements)"
    )
    assert tables_read(sql) == {"customers", "subscriptions", "plans", "entitlements"}
    assert _WRITE.findall("UPDATE customers SET x = 1") == ["customers"]


def test_the_declaration_names_real_tables_once() -> None:
    names = [read.table for read in READS]
    assert len(names) == len(set(names))
    assert set(names) <= set(all_tables.Base.metadata.tables)
    assert HotReads.READS is READS


def test_a_snapshot_build_reads_only_declared_tables(tenant: Tenant, http: httpx.Client) -> None:
    if tenant.server.event_store == "clickhouse":
        pytest.skip("the catalog is SQLite there too; the SQLite server covers it")
    s = _setup(http, limit=10)
    settings = Settings()
    db = Database.connect(settings, tenant.server.database_url)
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(db.read_engine, "before_cursor_execute", record)
    hot = HotReads(db, settings)
    try:

        def work(reader: Reader) -> None:
            principal = reader.principal(tenant.key)
            by_id = reader.snapshot(principal, "id", s["customer"]["id"])
            by_external = reader.snapshot(principal, "external_id", s["customer"]["external_id"])
            assert by_id.specs and by_external.accesses  # a metered grant, a real snapshot

        anyio.run(hot.run, work)
    finally:
        hot.close()
        event.remove(db.read_engine, "before_cursor_execute", record)
        db.dispose()
    read = set().union(*(tables_read(sql) for sql in seen)) - {"catalog_version"}
    # Not vacuous: the build went through the grant tables.
    assert {"api_keys", "customers", "subscriptions", "entitlements"} <= read, read
    assert read <= TABLES, f"read but not declared in entitlements/reads.py: {read - TABLES}"


# -- writes ------------------------------------------------------------------------------


def _sources() -> list[Path]:
    return [p for p in SRC.rglob("*.py") if "migrations" not in p.parts]


def _module(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _strings(tree: ast.AST) -> list[tuple[int, str]]:
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    ]


def test_no_raw_sql_text_writes_a_declared_table() -> None:
    found = []
    for path in _sources():
        for line, text in _strings(ast.parse(path.read_text())):
            for table in _WRITE.findall(text):
                if table.lower() in TABLES:
                    found.append(f"{_module(path)}:{line}: {table}")
    assert not found, "raw SQL the catalog version watch cannot see: " + ", ".join(found)


def _owners() -> dict[str, tuple[str, str]]:
    """Model class name -> (table, package that owns the model), for declared tables."""
    owners = {}
    for mapper in all_tables.Base.registry.mappers:
        cls = mapper.class_
        table = getattr(cls, "__tablename__", None)
        if table in TABLES:
            owners[cls.__name__] = (table, cls.__module__.rsplit(".", 1)[0])
    return owners


def _dml_targets(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, class name) of each ``insert/update/delete(Model)`` or ``(Model.__table__)``."""
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
        if name not in ("insert", "update", "delete"):
            continue
        target = node.args[0]
        if isinstance(target, ast.Attribute) and target.attr == "__table__":
            target = target.value
        if isinstance(target, ast.Name):
            found.append((node.lineno, target.id))
    return found


# Core DML on a declared table outside its owner's repository, each with its reason. The
# watch sees these (they are SQLAlchemy statements); they are listed so that a new one is
# a decision. Only shrinks: an entry that no longer exists fails the test.
OUTSIDE_THE_OWNER: dict[tuple[str, str], str] = {
    ("meterline.licensing.repository", "Entitlement"): (
        "a Kaiten license grant is an entitlement row (one grant row for both dialects):"
        " deleting a license deletes its grants"
    ),
    ("meterline.licensing.repository", "Environment"): (
        "the environment's license signing key is made by licensing on first use"
    ),
}


def test_core_dml_on_a_declared_table_is_in_the_repository_that_owns_it() -> None:
    owners = _owners()
    assert {table for table, _ in owners.values()} == TABLES  # every declared table mapped
    found = set()
    for path in _sources():
        module = _module(path)
        for _line, name in _dml_targets(ast.parse(path.read_text())):
            if name in owners and module != owners[name][1] + ".repository":
                found.add((module, name))
    assert found - OUTSIDE_THE_OWNER.keys() == set(), (
        "writes a declared table around its repository"
    )
    assert OUTSIDE_THE_OWNER.keys() - found == set(), "fixed: remove it from OUTSIDE_THE_OWNER"


def test_the_scan_sees_a_write_around_the_repository() -> None:
    tree = ast.parse(
        "session.execute(update(Customer).values(name='x'))\n"
        "conn.execute(sa.delete(Entitlement.__table__))\n"
        "conn.exec_driver_sql('UPDATE subscriptions SET x = 1')\n"
    )
    assert sorted(name for _, name in _dml_targets(tree)) == ["Customer", "Entitlement"]
    assert [t for _, s in _strings(tree) for t in _WRITE.findall(s)] == ["subscriptions"]


# -- the watch follows the declaration ----------------------------------------------------


def test_the_watch_moves_a_version_for_declared_tables_only(tmp_path: Path) -> None:
    from meterline.db.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'watch.db'}"
    upgrade(url)
    db = Database.connect(Settings(database_url=url))
    try:

        def version() -> int | None:
            with db.read_engine.connect() as conn:
                return catalog_version.read(conn.connection.dbapi_connection)

        before = version()
        with db.session() as session:  # undeclared: the webhook outbox
            session.execute(update(all_tables.webhooks_models.WebhookEndpoint).values(secret="s"))
        assert version() == before
        with db.session() as session:  # declared: plans
            session.execute(update(all_tables.plans_models.Plan).values(name="n"))
        assert version() == (before or 0) + 1
    finally:
        db.dispose()
