"""Fixtures of the security tests: a victim tenant with one resource of every kind, and
the keys that must not reach it (another environment, another organization, a customer
scope, a revoked key, a key without the scope)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.conftest import Server, Tenant, new_tenant


def skip_clickhouse(server: Server) -> None:
    """Authorization and the wire layer do not depend on the event store: on the ClickHouse
    server (its catalog lives under a ``clickhouse`` directory) these tests add time, not
    cover. Called from module-scoped fixtures, so nothing is seeded there either."""
    if "clickhouse" in server.database_url:
        pytest.skip("the same on the ClickHouse event store")


@pytest.fixture(autouse=True)
def _sql_backends_only(request: pytest.FixtureRequest) -> None:
    callspec = getattr(request.node, "callspec", None)
    if callspec is not None and callspec.params.get("server") == "clickhouse":
        pytest.skip("the same on the ClickHouse event store")


def mint(tenant: Tenant, **body: Any) -> tuple[str, str]:
    """A key of ``tenant``'s environment: (plaintext, key id)."""
    with tenant.client() as http:
        response = http.post("/v1/secrets/api/keys", json={"name": "probe", **body})
        assert response.status_code == 201, response.text
        data = response.json()
    return str(data["api_key"]), str(data["secret"]["id"])


def run_cli(server: Server, *args: str) -> str:
    """Run the ``meterline`` CLI against ``server``'s database; its last line of output."""
    result = subprocess.run(
        [sys.executable, "-m", "meterline", *args],
        env={
            "METERLINE_DATABASE_URL": server.database_url,
            "PATH": "/usr/bin:/bin",
            # A checkout run from its source tree runs its own CLI, not an installed one.
            **({"PYTHONPATH": os.environ["PYTHONPATH"]} if "PYTHONPATH" in os.environ else {}),
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return result.stdout.strip().splitlines()[-1]


def other_organization_key(server: Server) -> str:
    """A full-rights key of a separate organization, minted with the CLI."""
    line = run_cli(
        server, "keys", "create", "--organization", f"Other org {uuid.uuid4().hex[:8]}", "--json"
    )
    return str(json.loads(line)["key"])


def platform_credential(server: Server, *scopes: str, ttl: str | None = None) -> dict[str, Any]:
    """A platform credential (``ksm_...``) made with the CLI, as an operator makes one:
    every platform scope unless ``scopes`` are given."""
    args = ["keys", "create", "--platform", "--name", f"ops {uuid.uuid4().hex[:6]}", "--json"]
    for scope in scopes:
        args += ["--scope", scope]
    if ttl:
        args += ["--ttl", ttl]
    created: dict[str, Any] = json.loads(run_cli(server, *args))
    return created


@dataclass
class Victim:
    """Tenant A: one resource of every kind, every name carrying ``secret``."""

    tenant: Tenant
    secret: str
    # path parameter name (as in /openapi.json) -> a real id or slug of tenant A
    path_ids: dict[str, str] = field(default_factory=dict)
    # body field name -> a real id of tenant A, to reference its rows from request bodies
    body_ids: dict[str, str] = field(default_factory=dict)


def _ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code in (200, 201, 202, 204), (response.request.url, response.text)
    return response.json() if response.content else {}  # type: ignore[no-any-return]


def _connector_of(server: Server, tenant: Tenant, tag: str, secret: str) -> str:
    """A connector the deployment offers (registered with the CLI), which tenant A has
    activated and configured with settings holding ``secret``; its name."""
    name = f"{tag}-connector"
    schema = {"type": "object", "properties": {"note": {"type": "string"}}}
    with tempfile.NamedTemporaryFile("w", suffix=".json") as handle:
        json.dump(schema, handle)
        handle.flush()
        run_cli(server, "connectors", "register", name, "--version", "1", "--schema", handle.name)
    with httpx.Client(
        base_url=server.base_url + "/api",
        headers={"Authorization": f"Bearer {tenant.key}"},
        timeout=30,
    ) as api:
        _ok(api.put(f"/connectors/{name}/activation"))
        _ok(api.put(f"/connectors/{name}/settings", json={"settings": {"note": secret}}))
    return name


def seed_victim(server: Server) -> Victim:
    tenant = new_tenant(server)
    secret = "SECRET" + uuid.uuid4().hex[:12]
    tag = "t" + uuid.uuid4().hex[:12]  # slugs and external ids: probes send these
    with tenant.client() as http:
        customer = _ok(
            http.post(
                "/v1/customers",
                json={
                    "external_id": f"{tag}-cust",
                    "name": f"{secret} Corp",
                    "email": f"{secret.lower()}@example.com",
                },
            )
        )
        feature = _ok(
            http.post(
                "/v1/features",
                json={
                    "name": f"{secret} tokens",
                    "type": "metered",
                    "lookup_key": f"{tag}-tokens",
                    "meter": {
                        "name": f"{secret} meter",
                        "event_name": f"{tag}-call",
                        "aggregation": {"type": "SUM", "field": "tokens"},
                        "reset_usage": "BILLING_PERIOD",
                    },
                },
            )
        )
        plan = _ok(http.post("/v1/plans", json={"name": f"{secret} plan", "lookup_key": tag}))
        price = _ok(
            http.post(
                "/v1/prices",
                json={
                    "entity_type": "PLAN",
                    "entity_id": plan["id"],
                    "type": "FIXED",
                    "price_unit_type": "FIAT",
                    "currency": "usd",
                    "billing_model": "FLAT_FEE",
                    "amount": "10",
                    "billing_period": "MONTHLY",
                    "billing_period_count": 1,
                    "invoice_cadence": "ADVANCE",
                    "lookup_key": f"{tag}-price",
                    "description": f"{secret} price",
                },
            )
        )
        entitlement = _ok(
            http.post(
                "/v1/entitlements",
                json={
                    "plan_id": plan["id"],
                    "feature_id": feature["id"],
                    "feature_type": "metered",
                    "is_enabled": True,
                    "usage_limit": 500,
                    "usage_reset_period": "MONTHLY",
                },
            )
        )
        subscription = _ok(
            http.post(
                "/v1/subscriptions",
                json={
                    "customer_id": customer["id"],
                    "plan_id": plan["id"],
                    "currency": "usd",
                    "billing_period": "MONTHLY",
                    "metadata": {"owner": secret},
                },
            )
        )
        wallet = _ok(
            http.post(
                "/v1/wallets",
                json={"customer_id": customer["id"], "currency": "usd", "name": f"{secret} w"},
            )
        )
        invoice = _ok(
            http.post(
                "/v1/invoices",
                json={
                    "customer_id": customer["id"],
                    "currency": "usd",
                    "amount_due": "9",
                    "subtotal": "9",
                    "total": "9",
                    "description": f"{secret} invoice",
                },
            )
        )
        _ok(
            http.post(
                "/v1/events",
                json={
                    "event_name": f"{tag}-call",
                    "external_customer_id": f"{tag}-cust",
                    "event_id": f"{tag}-event",
                    "properties": {"tokens": 7, "note": secret},
                },
            )
        )
        spare_key = _ok(http.post("/v1/secrets/api/keys", json={"name": f"{secret} spare"}))
        tenant_id = _ok(http.get("/v1/users/me"))["tenant"]["id"]
        webhook = _ok(
            http.post(
                "/v1/webhooks/endpoints",
                json={"url": "https://hooks.example.com/in", "description": f"{secret} hook"},
            )
        )

    api = httpx.Client(
        base_url=server.base_url + "/api",
        headers={"Authorization": f"Bearer {tenant.key}"},
        timeout=30,
    )
    with api:
        _ok(
            api.post(
                "/entitlements",
                json={
                    "name": f"{secret} seats",
                    "description": secret,
                    "slug": f"{tag}-seats",
                    "type": "NUMBER",
                },
            )
        )
        _ok(
            api.post(
                "/entitlement-groups",
                json={"name": f"{secret} group", "description": secret, "slug": f"{tag}-group"},
            )
        )
        _ok(
            api.post(
                f"/entitlement-groups/{tag}-group/entitlements",
                json={"entitlementSlug": f"{tag}-seats"},
            )
        )
        license_ = _ok(
            api.post(
                "/licenses",
                json={"name": f"{secret} license", "slug": f"{tag}-lic", "type": "PAID"},
            )
        )
        _ok(
            api.post(
                f"/licenses/{tag}-lic/entitlements",
                json={
                    "entitlementSlug": f"{tag}-seats",
                    "value": {"type": "number", "value": 5},
                },
            )
        )
        kaiten_customer = _ok(
            api.post("/customers", json={"name": f"{secret} Kaiten", "slug": f"{tag}-kc"})
        )
        _ok(
            api.post(
                "/instances",
                json={
                    "name": f"{secret} prod",
                    "slug": f"{tag}-inst",
                    "customerId": kaiten_customer["id"],
                    "licenseId": license_["id"],
                    "startLicenseDate": "2026-01-01T00:00:00Z",
                    "endLicenseDate": "2030-01-01T00:00:00Z",
                },
            )
        )
        _ok(
            api.post(
                f"/instances/{tag}-inst/entitlements/{tag}-seats/usage",
                json={"value": {"type": "number", "value": 2}},
            )
        )

    victim = Victim(tenant=tenant, secret=secret)
    victim.path_ids = {
        "env_id": tenant.environment_id,
        "tenant_id": tenant_id,
        "key_id": spare_key["secret"]["id"],
        "endpoint_id": webhook["id"],
        "meter_id": feature["meter_id"],
        "feature_id": feature["id"],
        "invoice_id": invoice["id"],
        "wallet_id": wallet["id"],
        "customer_id": customer["id"],
        "external_id": customer["external_id"],
        "plan_id": plan["id"],
        "price_id": price["id"],
        "price_lookup_key": f"{tag}-price",
        "entitlement_id": entitlement["id"],
        "subscription_id": subscription["id"],
        "entitlementSlug": f"{tag}-seats",
        "groupSlug": f"{tag}-group",
        "licenseSlug": f"{tag}-lic",
        "familySlug": str(license_["familySlug"]),
        "customerSlug": f"{tag}-kc",
        "instanceSlug": f"{tag}-inst",
    }
    victim.body_ids = {
        "customer_id": customer["id"],
        "external_customer_id": customer["external_id"],
        "plan_id": plan["id"],
        "feature_id": feature["id"],
        "meter_id": feature["meter_id"],
        "price_id": price["id"],
        "subscription_id": subscription["id"],
        "wallet_id": wallet["id"],
        "invoice_id": invoice["id"],
        "entitlement_id": entitlement["id"],
        "entity_id": plan["id"],
        "environment_id": tenant.environment_id,
        "customerId": kaiten_customer["id"],
        "licenseId": license_["id"],
        "entitlementSlug": f"{tag}-seats",
        "feature_lookup_key": f"{tag}-tokens",
        "instance": f"{tag}-inst",
    }
    # Deployment zones, components, releases and metadata fields of tenant A.
    with httpx.Client(
        base_url=server.base_url + "/api",
        headers={"Authorization": f"Bearer {tenant.key}"},
        timeout=30,
    ) as api:
        component = _ok(
            api.post(
                "/components",
                json={"name": f"{secret} comp", "version": "1", "slug": f"{tag}-comp"},
            )
        )
        release = _ok(
            api.post(
                "/releases",
                json={
                    "version": f"{tag}-v1",
                    "description": secret,
                    "componentIds": [component["id"]],
                    "slug": f"{tag}-rel",
                },
            )
        )
        zone = _ok(
            api.post(
                "/deployment-zones",
                json={
                    "name": f"{secret} zone",
                    "type": "production",
                    "slug": f"{tag}-zone",
                    "releaseId": release["id"],
                },
            )
        )
        metadata_field = _ok(
            api.post(
                "/metadata-fields",
                json={
                    "resourceType": "INSTANCE",
                    "key": f"{tag}-key",
                    "label": f"{secret} field",
                    "jsonSchema": {"type": "string"},
                },
            )
        )
    victim.path_ids |= {
        "deploymentZoneSlug": f"{tag}-zone",
        "componentSlug": f"{tag}-comp",
        "releaseSlug": f"{tag}-rel",
        "fieldId": metadata_field["id"],
    }
    victim.body_ids |= {
        "releaseId": release["id"],
        "deploymentZoneId": zone["id"],
        "previousComponentId": component["id"],
    }
    # A service account of tenant A and one of its tokens.
    with httpx.Client(
        base_url=server.base_url + "/api",
        headers={"Authorization": f"Bearer {tenant.key}"},
        timeout=30,
    ) as api:
        _ok(api.post("/service-accounts", json={"name": f"{secret} bot", "slug": f"{tag}-sa"}))
        _ok(
            api.post(
                f"/service-accounts/{tag}-sa/tokens",
                json={"name": f"{secret} token", "slug": f"{tag}-tok", "scopes": []},
            )
        )
        # Integrations: the customer and the instance linked to one record of one adapter.
        link = {"external_id": f"{tag}-rec", "metadata": {"note": secret}}
        _ok(api.post(f"/customers/{tag}-kc/integrations/{tag}-crm", json=link))
        _ok(api.post(f"/instances/{tag}-inst/integrations/{tag}-crm", json=link))
        # A feature flag of tenant A (connectors are the deployment's, not a tenant's row).
        _ok(
            api.post(
                "/feature-flags",
                json={
                    "name": f"{secret} flag",
                    "slug": f"{tag}-flag",
                    "type": "string",
                    "variants": [{"name": "a", "value": secret, "description": secret}],
                    "default_variant": {"type": "basic", "value": "a"},
                },
            )
        )
    victim.path_ids |= {"connectorName": _connector_of(server, tenant, tag, secret)}
    victim.path_ids |= {
        "featureFlagSlug": f"{tag}-flag",
        "flagKey": f"{tag}-flag",
        "serviceAccountSlug": f"{tag}-sa",
        "tokenSlug": f"{tag}-tok",
        "integrationName": f"{tag}-crm",
        "adapter": f"{tag}-crm",
        "externalId": f"{tag}-rec",
    }
    # A machine, a floating seat and a reservation of tenant A's instance (docs/licensing.md).
    with httpx.Client(
        base_url=server.base_url + "/api",
        headers={"Authorization": f"Bearer {tenant.key}"},
        timeout=30,
    ) as api:
        machines = f"/instances/{tag}-inst/machines"
        machine = _ok(api.post(machines, json={"fingerprint": f"{tag}-fp", "hostname": secret}))
        seat = _ok(api.post(f"/instances/{tag}-inst/leases", json={"holder": f"{secret} proc"}))
        held = _ok(
            api.post(
                f"/instances/{tag}-inst/entitlements/{tag}-seats/reservations",
                json={"amount": 1, "ttlSeconds": 86400},
            )
        )
    victim.path_ids |= {
        "machineId": machine["id"],
        "leaseId": seat["id"],
        "reservationId": held["id"],
    }
    # A credit grant on tenant A's plan.
    with tenant.client() as v1:
        grant = _ok(
            v1.post(
                "/v1/creditgrants",
                json={
                    "name": f"{secret} grant",
                    "scope": "PLAN",
                    "plan_id": victim.path_ids["plan_id"],
                    "credits": "5",
                    "cadence": "ONETIME",
                    "metadata": {"note": secret},
                },
            )
        )
        # Alert settings on tenant A's wallet.
        alert = _ok(
            v1.post(
                "/v1/alerts/setting",
                json={
                    "entity_type": "wallet",
                    "entity_id": victim.path_ids["wallet_id"],
                    "parent_entity_type": "subscription",
                    "parent_entity_id": f"{secret}-parent",
                    "config": {"critical": {"condition": "below", "threshold": "1"}},
                },
            )
        )
    victim.path_ids |= {"grant_id": grant["id"], "setting_id": alert["id"]}
    # An add-on of tenant A, on its subscription.
    with tenant.client() as v1:
        addon = _ok(
            v1.post(
                "/v1/addons",
                json={"name": f"{secret} addon", "lookup_key": f"{tag}-addon"},
            )
        )
        association = _ok(
            v1.post(
                "/v1/subscriptions/addon",
                json={
                    "subscription_id": victim.path_ids["subscription_id"],
                    "addon_id": addon["id"],
                    "metadata": {"note": secret},
                },
            )
        )
    victim.path_ids |= {"addon_id": addon["id"], "addon_lookup_key": f"{tag}-addon"}
    victim.body_ids |= {"addon_id": addon["id"], "addon_association_id": association["id"]}
    # A price unit, an exchange rate and a group of tenant A.
    with tenant.client() as v1:
        unit = _ok(
            v1.post(
                "/v1/prices/units",
                json={
                    "code": f"{tag}-u"[:20],
                    "name": f"{secret} unit",
                    "symbol": "U",
                    "base_currency": "usd",
                    "conversion_rate": "0.5",
                },
            )
        )
        rate = _ok(
            v1.post(
                "/v1/forex",
                json={
                    "from_currency": "usd",
                    "to_currency": "eur",
                    "scope": "tenant",
                    "rate": "0.9",
                    "metadata": {"note": secret},
                },
            )
        )
        group = _ok(
            v1.post(
                "/v1/groups",
                json={"name": f"{secret} group", "lookup_key": f"{tag}-g", "entity_type": "price"},
            )
        )
        costsheet = _ok(
            v1.post(
                "/v1/costs",
                json={"name": f"{secret} costs", "lookup_key": f"{tag}-cs", "description": secret},
            )
        )["costsheet"]
        view = _ok(
            v1.post(
                "/v1/analytics/views",
                json={
                    "name": f"{secret} view",
                    "definition": {"metrics": ["net_billing"], "shape": "scalar"},
                },
            )
        )
    victim.path_ids |= {
        "unit_id": unit["id"],
        "unit_code": unit["code"],
        "fx_rate_id": rate["id"],
        "group_id": group["id"],
        "costsheet_id": costsheet["id"],
        "view_id": view["id"],
    }
    return victim
