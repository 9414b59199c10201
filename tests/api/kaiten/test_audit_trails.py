"""instances.list_audit_trails through the official SDK: instance, license, grant and usage
changes, with who made them and when, newest first, walked by cursor."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from kaitencloud import AsyncKaitenClient, KaitenClient, NotFoundError, ThresholdExceededError

from meterline.api.kaiten.ids import wire_id
from tests.api.kaiten.conftest import mint_key
from tests.conftest import Tenant

START = datetime(2026, 1, 1, tzinfo=UTC)
END = datetime(2030, 1, 1, tzinfo=UTC)


def _setup(kaiten: KaitenClient, slug: str = "acme-prod") -> None:
    kaiten.entitlements.create(name="Seats", slug="seats", type="NUMBER")
    kaiten.entitlements.create(name="SSO", slug="sso", type="BOOLEAN")
    kaiten.licenses.create(name="Growth", slug="growth", type="PAID")
    kaiten.licenses.associate_entitlement("growth", "seats", 100)  # before the instance
    customer = kaiten.customers.create(name="Acme", slug="acme")
    kaiten.instances.create(
        name="Acme prod",
        slug=slug,
        customer_id=customer.id,
        license_id=kaiten.licenses.get("growth").id,
        start_license_date=START,
        end_license_date=END,
    )


def test_every_change_is_in_the_trail(kaiten: KaitenClient) -> None:
    _setup(kaiten)
    kaiten.instances.update_status("acme-prod", "DEGRADED")
    kaiten.instances.update_lifecycle_stage("acme-prod", "TRIAL")
    kaiten.licenses.associate_entitlement("growth", "sso", True)
    kaiten.licenses.update_entitlement("growth", "seats", 50)
    kaiten.instances.report_usage("acme-prod", "seats", 3)
    kaiten.instances.report_usage("acme-prod", "seats", 2, behavior="set")
    kaiten.licenses.delete_entitlement("growth", "sso")

    trail = kaiten.instances.list_audit_trails("acme-prod")
    assert [e.event_name for e in trail] == [
        "LICENSE_ENTITLEMENT_UNASSIGNED",
        "ENTITLEMENT_USAGE_REPORT_ACCEPTED",
        "ENTITLEMENT_USAGE_REPORT_ACCEPTED",
        "LICENSE_ENTITLEMENT_UPDATED",
        "LICENSE_ENTITLEMENT_ASSIGNED",
        "INSTANCE_LIFECYCLE_STAGE_CHANGED",
        "INSTANCE_STATUS_CHANGED",
        "INSTANCE_CREATED",
    ]  # the grant made before the instance existed is not in its trail
    instance = kaiten.instances.get("acme-prod")
    # The UUID form of the instance's id (the same id, whichever form instances render).
    assert {(e.instance_id, e.instance_slug) for e in trail} == {
        (wire_id(instance.id), "acme-prod")
    }
    assert len({e.id for e in trail}) == len(trail)
    assert trail[-1].event_type == "com.kaiten.instance.v1.created"
    assert trail[1].event_type == "com.kaiten.instance.entitlement.v1.usage_report_accepted"
    assert trail[1].payload["behavior"] == "set"
    assert trail[1].payload["entitlementSlug"] == "seats"
    assert (trail[1].payload["previousValue"], trail[1].payload["resultingValue"]) == ("3", "2")
    assert trail[6].payload == {"previousStatus": "HEALTHY", "status": "DEGRADED"}
    assert all(e.model_extra and e.model_extra["actor"]["id"] for e in trail)
    stamps = [e.timestamp for e in trail]
    assert stamps == sorted(stamps, reverse=True)

    status = kaiten.instances.list_audit_trails("acme-prod", event_name="INSTANCE_STATUS_CHANGED")
    assert [e.event_name for e in status] == ["INSTANCE_STATUS_CHANGED"]
    assert len(kaiten.instances.list_audit_trails("acme-prod", limit=3)) == 3
    future = datetime.now(UTC) + timedelta(days=1)
    assert kaiten.instances.list_audit_trails("acme-prod", after=future) == []
    assert len(kaiten.instances.list_audit_trails("acme-prod", before=future)) == len(trail)
    assert kaiten.instances.list_audit_trails("acme-prod", before=START) == []


def test_refused_reports_are_not_changes(kaiten: KaitenClient) -> None:
    _setup(kaiten)
    kaiten.licenses.update_entitlement("growth", "seats", 1)
    kaiten.instances.report_usage("acme-prod", "seats", 1)
    with pytest.raises(ThresholdExceededError):  # over the hard limit
        kaiten.instances.report_usage("acme-prod", "seats", 5)
    usage = kaiten.instances.list_audit_trails(
        "acme-prod", event_name="ENTITLEMENT_USAGE_REPORT_ACCEPTED"
    )
    assert len(usage) == 1


def test_cursor_pages_and_errors(kaiten: KaitenClient, api: httpx.Client, tenant: Tenant) -> None:
    _setup(kaiten)
    for n in range(5):
        kaiten.instances.report_usage("acme-prod", "seats", n + 1)
    first = api.get("/instances/acme-prod/audit-trails", params={"limit": 2}).json()
    assert first["hasMore"] is True and len(first["items"]) == 2
    seen = [e["id"] for e in first["items"]]
    cursor = first["nextCursor"]
    while cursor:
        page = api.get(
            "/instances/acme-prod/audit-trails", params={"limit": 2, "cursor": cursor}
        ).json()
        seen += [e["id"] for e in page["items"]]
        cursor = page.get("nextCursor")
    assert seen == [e.id for e in kaiten.instances.list_audit_trails("acme-prod")]
    assert len(seen) == 6

    bad = api.get("/instances/acme-prod/audit-trails", params={"cursor": "garbage!"})
    assert bad.status_code in (400, 422)
    assert api.get("/instances/acme-prod/audit-trails", params={"limit": 201}).status_code == 422
    with pytest.raises(NotFoundError):
        kaiten.instances.list_audit_trails("nope")
    no_scope = mint_key(tenant, ["read:licenses"])
    refused = httpx.get(
        tenant.server.base_url + "/api/instances/acme-prod/audit-trails",
        headers={"Authorization": f"Bearer {no_scope}"},
    )
    assert refused.status_code == 403


def test_async_audit_trail(tenant: Tenant, kaiten: KaitenClient) -> None:
    _setup(kaiten)
    kaiten.instances.report_usage("acme-prod", "seats", 1)

    async def flow() -> None:
        async with AsyncKaitenClient(
            base_url=tenant.server.base_url, token=tenant.key, max_retries=0
        ) as client:
            await client.instances.update_status("acme-prod", "INCIDENT")
            trail = await client.instances.list_audit_trails("acme-prod", limit=2)
            assert [e.event_name for e in trail] == [
                "INSTANCE_STATUS_CHANGED",
                "ENTITLEMENT_USAGE_REPORT_ACCEPTED",
            ]

    asyncio.run(flow())
