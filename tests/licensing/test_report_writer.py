"""The group-commit writer of usage reports, driven in-process on the test server's own
database (SQLite, and PostgreSQL when configured): batch order, transaction ids within and
across batches, limits under concurrency (also between two writers, as two processes), a
failing report amid its batch-mates, and the webhook outbox."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from meterline.db.engine import Database
from meterline.kernel.errors import Conflict, InvalidRequest, NotFound
from meterline.licensing import reporting
from meterline.licensing.report_writer import ReportWriter
from meterline.licensing.reporting import ReportOutcome, UsageReportRequest
from meterline.settings import Settings
from tests.api.kaiten.conftest import granted_instance
from tests.conftest import Tenant


@pytest.fixture
def api(tenant: Tenant) -> Iterator[httpx.Client]:
    if "clickhouse" in tenant.server.database_url:
        pytest.skip("reports do not touch the event store")
    with httpx.Client(
        base_url=tenant.server.base_url + "/api",
        headers={"Authorization": f"Bearer {tenant.key}"},
        timeout=30,
    ) as client:
        yield client


@pytest.fixture
def db(tenant: Tenant) -> Iterator[Database]:
    database = Database.connect(Settings(database_url=tenant.server.database_url))
    yield database
    database.dispose()


def _report(
    tenant: Tenant,
    target: tuple[str, str],
    value: int | str,
    *,
    behavior: str = "append",
    transaction_id: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> UsageReportRequest:
    return UsageReportRequest(
        environment_id=tenant.environment_id,
        key_id="test",
        instance_slug=target[0],
        entitlement_slug=target[1],
        value=Decimal(value),
        behavior=behavior,
        metadata=metadata,
        transaction_id=transaction_id,
    )


def _usage_path(target: tuple[str, str]) -> str:
    return f"/instances/{target[0]}/entitlements/{target[1]}/usage"


def _value(outcome: Any) -> Decimal:
    assert isinstance(outcome, ReportOutcome)
    return Decimal(outcome.view.value.value)


def test_a_batch_applies_its_reports_in_arrival_order(
    api: httpx.Client, tenant: Tenant, db: Database
) -> None:
    target = granted_instance(api, 10)
    reports = [
        _report(tenant, target, 3),
        _report(tenant, target, 4),
        _report(tenant, target, 2, behavior="set"),
        _report(tenant, target, 9),  # 11 > 10: refused, changes nothing
        _report(tenant, target, 8),  # 10: reaching the limit is allowed
        _report(tenant, target, "0.5"),  # refused
    ]
    results = ReportWriter(db).apply(reports)
    assert [r.accepted for r in results] == [True, True, True, False, True, False]  # type: ignore[union-attr]
    assert [_value(r) for r in results if r.accepted] == [3, 7, 2, 10]  # type: ignore[union-attr]
    assert results[3].detail == f"Usage for {target[1]} exceeds the allowed threshold"  # type: ignore[union-attr]
    ledger = api.get(_usage_path(target) + "/reports").json()
    assert [r["status"] for r in ledger] == ["ACCEPTED"] * 3 + ["REJECTED", "ACCEPTED", "REJECTED"]
    assert [r["resultingValue"] for r in ledger] == [3, 7, 2, 11, 10, 10.5]
    assert [r["previousValue"] for r in ledger] == [0, 3, 7, 2, 2, 10]
    usage = api.get(_usage_path(target)).json()
    assert usage["value"] == {"type": "number", "value": 10, "event_count": 2}


def test_errors_are_per_report(api: httpx.Client, tenant: Tenant, db: Database) -> None:
    target = granted_instance(api, 100)
    api.post(
        "/entitlements",
        json={"name": "flag", "slug": "flag", "type": "BOOLEAN", "description": None},
    )
    lic = target[1] + "-lic"
    api.post(
        f"/licenses/{lic}/entitlements",
        json={"entitlementSlug": "flag", "value": {"type": "boolean", "value": True}},
    )
    results = ReportWriter(db).apply(
        [
            _report(tenant, ("missing", target[1]), 1),
            _report(tenant, target, 1),
            _report(tenant, (target[0], "flag"), 1),
            _report(tenant, (target[0], "nope"), 1),
            _report(tenant, target, 1),
        ]
    )
    assert isinstance(results[0], NotFound)
    assert results[0].resource == "instance or entitlement"
    assert isinstance(results[2], InvalidRequest)
    assert results[2].reason == "unsupported_entitlement_type"
    assert isinstance(results[3], NotFound)
    assert [_value(results[1]), _value(results[4])] == [1, 2]


def test_transaction_ids_within_and_across_batches(
    api: httpx.Client, tenant: Tenant, db: Database
) -> None:
    target = granted_instance(api, 100)
    writer = ReportWriter(db)
    first, replay, reused, other = writer.apply(
        [
            _report(tenant, target, 1, transaction_id="tx-a"),
            _report(tenant, target, 1, transaction_id="tx-a"),
            _report(tenant, target, 2, transaction_id="tx-a"),
            _report(tenant, target, 5, transaction_id="tx-b"),
        ]
    )
    assert isinstance(first, ReportOutcome) and not first.replayed
    assert isinstance(replay, ReportOutcome) and replay.replayed
    assert replay.view.value == first.view.value
    assert replay.view.timestamp == first.view.timestamp
    assert isinstance(reused, Conflict)
    assert reused.reason == "transaction_id_reused"
    assert _value(other) == 6
    (later,) = writer.apply([_report(tenant, target, 1, transaction_id="tx-a")])
    assert isinstance(later, ReportOutcome) and later.replayed and _value(later) == 1
    ledger = api.get(_usage_path(target) + "/reports").json()
    assert [r["transactionId"] for r in ledger] == ["tx-a", "tx-b"]
    assert api.get(_usage_path(target)).json()["value"]["value"] == 6
    # Over HTTP, a replay answers the stored body with the header.
    replayed = api.post(
        _usage_path(target),
        json={"value": {"type": "number", "value": 5}, "transactionId": "tx-b"},
    )
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert replayed.json()["value"] == {"type": "number", "value": 6, "event_count": 2}


def _submit_all(writer: ReportWriter, reports: list[UsageReportRequest]) -> list[Any]:
    async def run() -> list[Any]:
        return await asyncio.gather(
            *(writer.submit(report) for report in reports), return_exceptions=True
        )

    return asyncio.run(run())


def test_a_hard_limit_holds_under_concurrent_reports(
    api: httpx.Client, tenant: Tenant, db: Database
) -> None:
    target = granted_instance(api, 25)
    writer = ReportWriter(db, max_batch=7)
    writer.start()
    try:
        results = _submit_all(writer, [_report(tenant, target, 1) for _ in range(60)])
    finally:
        writer.stop()
    assert [r.accepted for r in results].count(True) == 25
    assert writer.batches >= 9  # 60 reports, at most 7 a batch
    usage = api.get(_usage_path(target)).json()
    assert usage["value"] == {"type": "number", "value": 25, "event_count": 25}


def test_two_writers_on_one_database_hold_a_limit(
    api: httpx.Client, tenant: Tenant, db: Database
) -> None:
    # Two writers with their own engines: what two `serve` processes sharing a database do.
    target = granted_instance(api, 30)
    other_db = Database.connect(Settings(database_url=tenant.server.database_url))
    writers = [ReportWriter(db, max_batch=5), ReportWriter(other_db, max_batch=5)]
    outcomes: list[list[Any]] = [[], []]

    def run(index: int) -> None:
        writers[index].start()
        try:
            outcomes[index] = _submit_all(
                writers[index], [_report(tenant, target, 1) for _ in range(40)]
            )
        finally:
            writers[index].stop()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        other_db.dispose()
    accepted = [r.accepted for results in outcomes for r in results]
    assert accepted.count(True) == 30 and len(accepted) == 80
    assert api.get(_usage_path(target)).json()["value"]["value"] == 30


def test_a_failing_report_leaves_its_batch_mates_their_answers(
    api: httpx.Client, tenant: Tenant, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = granted_instance(api, 100)
    writer = ReportWriter(db)
    # A bug while working out one report: that report fails, the others are applied.
    fold = reporting.fold

    def failing_fold(aggregation: str | None, behavior: str, old: Any, value: Decimal) -> Any:
        if value == 13:
            raise RuntimeError("boom")
        return fold(aggregation, behavior, old, value)

    monkeypatch.setattr(reporting, "fold", failing_fold)
    results = writer.apply([_report(tenant, target, v) for v in (1, 13, 2)])
    assert isinstance(results[1], RuntimeError)
    assert [_value(results[0]), _value(results[2])] == [1, 3]
    # A report the database refuses fails the batch's writes: the batch is applied again
    # one report per transaction, and only that report fails.
    unstorable = {"x": object()}
    outcomes = writer.commit(
        [
            _report(tenant, target, 4),
            _report(tenant, target, 5, metadata=unstorable),
            _report(tenant, target, 6),
        ]
    )
    assert _value(outcomes[0]) == 7
    assert isinstance(outcomes[1], TypeError)
    assert _value(outcomes[2]) == 13
    ledger = api.get(_usage_path(target) + "/reports").json()
    assert [r["value"] for r in ledger] == [1, 2, 4, 6]
    assert api.get(_usage_path(target)).json()["value"] == {
        "type": "number",
        "value": 13,
        "event_count": 4,
    }


def test_threshold_webhooks_are_in_the_batch_transaction(
    api: httpx.Client, tenant: Tenant, db: Database
) -> None:
    target = granted_instance(api, 10)
    ReportWriter(db).apply([_report(tenant, target, v) for v in (5, 3, 2, 1)])
    with db.read_engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT event_type, payload FROM webhook_messages WHERE environment_id = :env "
                "AND event_type LIKE 'instance.%' ORDER BY created_at"
            ),
            {"env": tenant.environment_id},
        ).all()
    payloads = [r.payload if isinstance(r.payload, dict) else json.loads(r.payload) for r in rows]
    assert [r.event_type for r in rows] == ["instance.usage_threshold_reached"] * 2
    assert [(p["threshold_percent"], p["usage"]) for p in payloads] == [("80", "8"), ("100", "10")]


def test_grant_changes_count_from_the_next_report(api: httpx.Client) -> None:
    target = granted_instance(api, 2)
    path = _usage_path(target)
    one = {"value": {"type": "number", "value": 1}}
    assert [api.post(path, json=one).status_code for _ in range(3)] == [200, 200, 409]
    grant = f"/licenses/{target[1]}-lic/entitlements/{target[1]}"
    raised = api.put(
        grant,
        json={"value": {"type": "number", "value": 3}, "limitCapExceededOveragePercent": 0},
    )
    assert raised.status_code == 204, raised.text
    assert api.get(path).json()["limit"] == {"type": "number", "value": 3}
    assert api.post(path, json=one).json()["value"]["value"] == 3
    assert api.post(path, json=one).status_code == 409
    assert api.delete(grant).status_code == 204
    assert api.post(path, json=one).json()["code"] == (
        "ReportEntitlementUsageMetric.ContextNotFound"
    )
    assert api.get(path).json()["code"] == "GetEntitlementUsageMetrics.EntitlementNotAssigned"
    assert api.delete(f"/instances/{target[0]}").status_code == 204
    assert api.get(path).json()["code"] == "GetEntitlementUsageMetrics.InstanceNotFound"
