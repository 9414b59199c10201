"""/api over raw HTTP: auth, scopes, problem documents, idempotency, the ledger, windows."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import httpx
from kaitencloud import KaitenClient
from sqlalchemy import create_engine, text

from tests.api.kaiten.conftest import mint_key
from tests.api.kaiten.test_sdk_flow import _setup
from tests.conftest import Tenant

USAGE = "/instances/acme-prod/entitlements/seats/usage"
ONE = {"value": {"type": "number", "value": 1}, "behavior": "append"}


def _problem(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    assert body["instance"] == response.request.url.path
    return body  # type: ignore[no-any-return]


def test_missing_or_wrong_token_is_401(tenant: Tenant) -> None:
    base = tenant.server.base_url + "/api"
    body = _problem(httpx.get(base + "/customers"), 401)
    assert body["code"] == "UNAUTHORIZED"
    assert body["title"] == "Unauthorized"
    wrong = httpx.get(base + "/customers", headers={"Authorization": "Bearer ksh_nope"})
    _problem(wrong, 401)


def test_scopes_are_checked_per_operation(kaiten: KaitenClient, tenant: Tenant) -> None:
    _setup(kaiten)
    base = tenant.server.base_url + "/api"
    reader = {"Authorization": f"Bearer {mint_key(tenant, ['read:instances'])}"}
    assert httpx.get(base + USAGE, headers=reader).status_code == 200
    refused = _problem(httpx.post(base + USAGE, json=ONE, headers=reader), 403)
    assert refused["code"] == "FORBIDDEN"
    assert "write:instances" in str(refused["detail"])
    _problem(httpx.get(base + "/licenses", headers=reader), 403)
    writer = {"Authorization": f"Bearer {mint_key(tenant, ['write:instances'])}"}
    assert httpx.post(base + USAGE, json=ONE, headers=writer).status_code == 200
    customer_key = {"Authorization": f"Bearer {mint_key(tenant, customer='acme')}"}
    _problem(httpx.get(base + USAGE, headers=customer_key), 403)


def test_schema_violations_are_422_with_locations(kaiten: KaitenClient, api: httpx.Client) -> None:
    _setup(kaiten)
    replace = api.post(USAGE, json={**ONE, "behavior": "replace"})
    body = _problem(replace, 422)
    assert body["detail"] == "validation failed"
    assert body["type"] == "https://tools.ietf.org/html/rfc4918#section-11.2"
    assert [e["location"] for e in body["errors"]] == ["body.behavior"]  # type: ignore[union-attr]
    unknown = _problem(api.post(USAGE, json={**ONE, "extra": 1}), 422)
    assert unknown["errors"][0]["location"] == "body.extra"  # type: ignore[index]
    wrong_type = _problem(api.post(USAGE, json={"value": {"type": "boolean", "value": True}}), 422)
    assert wrong_type["errors"][0]["location"].startswith("body.value")  # type: ignore[index]
    not_finite = api.post(
        USAGE,
        content=b'{"value": {"type": "number", "value": NaN}}',
        headers={"content-type": "application/json"},
    )
    _problem(not_finite, 422)
    huge = _problem(api.post(USAGE, json={"value": {"type": "number", "value": 1e30}}), 422)
    assert huge["errors"][0]["location"] == "body.value.value"  # type: ignore[index]
    limit = _problem(api.get("/customers", params={"limit": 201}), 422)
    assert limit["errors"][0]["location"] == "query.limit"  # type: ignore[index]
    assert api.get("/customers", params={"limit": 200}).status_code == 200
    bad_cursor = _problem(api.get("/customers", params={"cursor": "!!"}), 422)
    assert bad_cursor["errors"][0]["location"] == "query.cursor"  # type: ignore[index]
    bad_grant = api.post(
        "/licenses/growth/entitlements",
        json={"entitlementSlug": "sso", "value": {"type": "number", "value": 1}},
    )
    _problem(bad_grant, 409)  # already granted comes first
    mismatch = api.put(
        "/licenses/growth/entitlements/seats",
        json={"value": {"type": "number", "value": 5}, "limitCapExceededOveragePercent": -1},
    )
    assert _problem(mismatch, 422)["errors"][0]["location"] == (  # type: ignore[index]
        "body.limitCapExceededOveragePercent"
    )


def test_malformed_json_is_400(kaiten: KaitenClient, api: httpx.Client) -> None:
    _setup(kaiten)
    response = api.post(USAGE, content=b'{"value": ', headers={"content-type": "application/json"})
    body = _problem(response, 400)
    assert body["title"] == "Bad Request"
    assert body["code"] == "VALIDATION"


def test_pagination_walks_with_cursors(api: httpx.Client) -> None:
    for index in range(5):
        assert api.post("/customers", json={"name": f"Customer {index}"}).status_code == 201
    first = api.get("/customers", params={"limit": 2}).json()
    assert len(first["items"]) == 2 and first["hasMore"] is True
    seen = [c["name"] for c in first["items"]]
    cursor = first["nextCursor"]
    while cursor:
        page = api.get("/customers", params={"limit": 2, "cursor": cursor}).json()
        seen += [c["name"] for c in page["items"]]
        cursor = page.get("nextCursor")
        assert ("nextCursor" in page) == page["hasMore"]
    assert sorted(seen) == [f"Customer {i}" for i in range(5)]


def test_transaction_id_makes_a_report_idempotent(kaiten: KaitenClient, api: httpx.Client) -> None:
    _setup(kaiten)
    first = api.post(USAGE, json={**ONE, "transactionId": "tx-1"})
    assert first.status_code == 200
    assert "Idempotent-Replayed" not in first.headers
    replay = api.post(USAGE, json={**ONE, "transactionId": "tx-1"})
    assert replay.status_code == 200
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert (
        replay.json()["value"]
        == first.json()["value"]
        == {
            "type": "number",
            "value": 1,
            "event_count": 1,
        }
    )
    reused = _problem(
        api.post(USAGE, json={"value": {"type": "number", "value": 2}, "transactionId": "tx-1"}),
        409,
    )
    assert reused["code"] == "ReportEntitlementUsageMetric.TransactionIdReused"
    assert api.get(USAGE).json()["value"]["value"] == 1


def test_every_report_is_in_the_ledger(kaiten: KaitenClient, api: httpx.Client) -> None:
    _setup(kaiten)
    for _ in range(6):
        assert api.post(USAGE, json=ONE).status_code == 200
    assert api.post(USAGE, json=ONE).status_code == 409
    assert api.post(USAGE, json={"value": {"type": "number", "value": 4}, "behavior": "set"})
    ledger = api.get(USAGE + "/reports").json()
    assert [r["status"] for r in ledger] == ["ACCEPTED"] * 6 + ["REJECTED", "ACCEPTED"]
    assert [r["resultingValue"] for r in ledger] == [1, 2, 3, 4, 5, 6, 7, 4]
    assert ledger[6]["previousValue"] == 6
    accepted_total = sum(r["value"] for r in ledger[:6] if r["status"] == "ACCEPTED")
    assert accepted_total == 6


def test_a_counter_of_an_older_window_reads_as_zero(
    kaiten: KaitenClient, api: httpx.Client, tenant: Tenant
) -> None:
    _setup(kaiten)
    calls = "/instances/acme-prod/entitlements/api-calls/usage"
    assert (
        api.post(calls, json={"value": {"type": "number", "value": 7}}).json()["value"]["value"]
        == 7
    )
    # Move the stored window back a month, as if the month had ended since.
    engine = create_engine(
        tenant.server.database_url.replace("postgresql://", "postgresql+psycopg://")
    )
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE usage_counters SET window_start = :old WHERE environment_id = :env "
                "AND window_start IS NOT NULL"
            ),
            {"old": datetime(2020, 1, 1), "env": tenant.environment_id},
        )
    engine.dispose()
    read = api.get(calls).json()
    assert read["value"] == {"type": "number", "value": 0}
    now = datetime.now(UTC)
    assert read["currentPeriodStart"] == f"{now.year:04d}-{now.month:02d}-01T00:00:00Z"
    after = api.post(calls, json={"value": {"type": "number", "value": 2}}).json()
    assert after["value"] == {"type": "number", "value": 2, "event_count": 1}


def test_concurrent_appends_never_pass_a_hard_limit(kaiten: KaitenClient, tenant: Tenant) -> None:
    kaiten.entitlements.create(name="Jobs", slug="jobs", type="NUMBER")
    kaiten.licenses.create(name="Hard", slug="hard", type="PAID")
    kaiten.licenses.associate_entitlement("hard", "jobs", 30, overage_percent=0)
    customer = kaiten.customers.create(name="Racer", slug="racer")
    kaiten.instances.create(
        name="race",
        slug="race",
        customer_id=customer.id,
        license_id=kaiten.licenses.get("hard").id,
        start_license_date=datetime(2026, 1, 1, tzinfo=UTC),
        end_license_date=datetime(2030, 1, 1, tzinfo=UTC),
    )
    url = tenant.server.base_url + "/api/instances/race/entitlements/jobs/usage"
    headers = {"Authorization": f"Bearer {tenant.key}"}

    def report(_: int) -> int:
        return httpx.post(url, json=ONE, headers=headers, timeout=60).status_code

    with ThreadPoolExecutor(max_workers=50) as pool:
        statuses = list(pool.map(report, range(50)))
    assert statuses.count(200) == 30
    assert statuses.count(409) == 20
    final = httpx.get(url, headers=headers).json()
    assert final["value"] == {"type": "number", "value": 30, "event_count": 30}
    ledger = httpx.get(url + "/reports", headers=headers).json()
    assert [r["status"] for r in ledger].count("ACCEPTED") == 30


def test_body_is_exact_json(kaiten: KaitenClient, api: httpx.Client) -> None:
    _setup(kaiten)
    response = api.post(USAGE, json={"value": {"type": "number", "value": 0.5}})
    assert json.loads(response.text)["value"] == {"type": "number", "value": 0.5, "event_count": 1}
