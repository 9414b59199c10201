"""The Kaiten usage read answers from memory on SQLite (``HotReads.kept``), and memory is
never stale: a report, a grant change, a deleted grant and a write by another process are
each seen by the very next read."""

from __future__ import annotations

from decimal import Decimal

import httpx
from sqlalchemy import update

from meterline.db.engine import Database
from meterline.licensing.models import UsageCounter
from meterline.settings import Settings
from tests.api.kaiten.conftest import granted_instance
from tests.conftest import Tenant


def _instance(api: httpx.Client, limit: int) -> tuple[str, str, str]:
    """(usage path, license slug, entitlement slug) of a fresh licensed instance."""
    instance, entitlement = granted_instance(api, limit)
    return (
        f"/instances/{instance}/entitlements/{entitlement}/usage",
        f"{entitlement}-lic",
        entitlement,
    )


def _read(api: httpx.Client, path: str) -> dict[str, object]:
    for _ in range(3):  # warm: the last of these may come from memory
        response = api.get(path)
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def _value(body: dict[str, object]) -> Decimal:
    value = body["value"]
    assert isinstance(value, dict)
    return Decimal(str(value["value"]))


def test_reports_and_grant_changes_are_read_at_once(api: httpx.Client) -> None:
    path, license_slug, slug = _instance(api, limit=10)
    assert _value(_read(api, path)) == 0
    for n in (1, 2, 3):
        reported = api.post(
            path, json={"behavior": "append", "value": {"type": "number", "value": n}}
        )
        assert reported.status_code == 200, reported.text
    body = api.get(path).json()
    assert _value(body) == 6
    assert body["limit"]["value"] == 10

    _read(api, path)
    changed = api.put(
        f"/licenses/{license_slug}/entitlements/{slug}",
        json={"value": {"type": "number", "value": 4}, "limitCapExceededOveragePercent": 0},
    )
    assert changed.status_code == 204, changed.text
    assert api.get(path).json()["limit"]["value"] == 4

    _read(api, path)
    assert api.delete(f"/licenses/{license_slug}/entitlements/{slug}").status_code == 204
    gone = api.get(path)
    assert gone.status_code == 404
    assert gone.json()["code"].endswith("EntitlementNotAssigned")


def test_a_write_from_another_process_is_read_at_once(tenant: Tenant, api: httpx.Client) -> None:
    path, _, _ = _instance(api, limit=100)
    api.post(path, json={"behavior": "append", "value": {"type": "number", "value": 5}})
    assert _value(_read(api, path)) == 5
    db = Database.connect(Settings(), tenant.server.database_url)
    try:
        with db.session() as session:
            session.execute(
                update(UsageCounter)
                .where(UsageCounter.environment_id == tenant.environment_id)
                .values(value=Decimal(42))
            )
    finally:
        db.dispose()
    assert _value(api.get(path).json()) == 42
