"""The dashboard's wallets, licenses and instances lists over plain HTTP: each shows what the
API shows, its filters filter, another environment's rows never show, and a key that may not
read the API's list may not read the page."""

from __future__ import annotations

import re
import uuid

import httpx
from flexprice import Flexprice

from tests.conftest import Tenant, new_tenant, unique
from tests.ui.test_overview import _signed_in


def _rows(page: str, kind: str) -> list[str]:
    return re.findall(rf'<tr data-{kind}="([^"]+)"', page)


def _slugs(page: str, kind: str) -> dict[str, str]:
    """slug → the dashboard's id of each row (the /api answers wire ids, the pages ours)."""
    return {s: i for i, s in re.findall(rf'<tr data-{kind}="([^"]+)" data-slug="([^"]+)"', page)}


def _licensed(tenant: Tenant, name: str) -> tuple[str, str]:
    """A license and one instance of it, through /api; the license's slug and the instance's."""
    slug = f"{name}-{uuid.uuid4().hex[:6]}"
    with httpx.Client(
        base_url=tenant.server.base_url + "/api",
        headers={"Authorization": f"Bearer {tenant.key}"},
        timeout=30,
    ) as api:
        made = api.post("/licenses", json={"name": f"{name} license", "slug": slug, "type": "PAID"})
        assert made.status_code == 201, made.text
        customer = api.post("/customers", json={"name": f"{name} customer"})
        assert customer.status_code == 201, customer.text
        instance = api.post(
            "/instances",
            json={
                "name": f"{name} instance",
                "slug": f"{slug}-inst",
                "customerId": customer.json()["id"],
                "licenseId": made.json()["id"],
                "startLicenseDate": "2026-01-01T00:00:00Z",
                "endLicenseDate": "2036-01-01T00:00:00Z",
            },
        )
        assert instance.status_code == 201, instance.text
        return slug, f"{slug}-inst"


def test_wallets_list_filters_sorts_and_stays_in_its_environment(
    tenant: Tenant, fp: Flexprice
) -> None:
    made = {}
    for name, currency, loaded in (
        ("Ada", "usd", "10"),
        ("Bob", "usd", "300"),
        ("Cy", "eur", "50"),
    ):
        customer = fp.customers.create_customer(external_id=unique(name.lower()), name=name)
        wallet = fp.wallets.create_wallet(
            customer_id=customer.id, currency=currency, initial_credits_to_load=loaded
        )
        made[name] = wallet.id
    other = new_tenant(tenant.server)
    with other.flexprice() as other_fp:
        stranger = other_fp.customers.create_customer(external_id=unique("ada"), name="Ada")
        foreign = other_fp.wallets.create_wallet(customer_id=stranger.id, currency="usd").id

    with _signed_in(tenant) as ui:
        everything = ui.get("/ui/wallets").text
        api = fp.wallets.query_wallet(limit=100)
        assert set(_rows(everything, "wallet")) == {w.id for w in api.items or []}
        assert set(_rows(everything, "wallet")) == set(made.values()) and foreign not in everything
        assert "$300.00" in everything and "€50.00" in everything

        by_customer = ui.get("/ui/wallets", params={"q": "Ada"}).text
        assert _rows(by_customer, "wallet") == [made["Ada"]]
        assert _rows(ui.get("/ui/wallets", params={"q": "nobody"}).text, "wallet") == []
        euros = ui.get("/ui/wallets", params={"currency": "eur"}).text
        assert _rows(euros, "wallet") == [made["Cy"]]
        richest = ui.get("/ui/wallets", params={"sort": "credit_balance", "order": "desc"}).text
        assert _rows(richest, "wallet") == [made["Bob"], made["Cy"], made["Ada"]]

        fp.wallets.terminate_wallet(id=made["Bob"])
        closed = ui.get("/ui/wallets", params={"status": "closed"}).text
        assert _rows(closed, "wallet") == [made["Bob"]]
        # A currency no wallet holds, or an unknown status, filters nothing.
        odd = ui.get("/ui/wallets", params={"currency": "xyz", "status": "melted"})
        assert odd.status_code == 200 and len(_rows(odd.text, "wallet")) == 3
        assert ui.get("/ui/wallets", params={"q": "x" * 300}).status_code == 400


def test_licenses_and_instances_lists(tenant: Tenant) -> None:
    alpha, alpha_instance = _licensed(tenant, "alpha")
    beta, beta_instance = _licensed(tenant, "beta")
    other = new_tenant(tenant.server)
    foreign, foreign_instance = _licensed(other, "alpha")

    with _signed_in(tenant) as ui:
        licenses = _slugs(ui.get("/ui/licenses").text, "license")
        assert set(licenses) == {alpha, beta}  # never the other environment's
        found = _slugs(ui.get("/ui/licenses", params={"q": "alpha"}).text, "license")
        assert set(found) == {alpha}
        assert "No licenses." in ui.get("/ui/licenses", params={"status": "DRAFT"}).text
        assert set(_slugs(ui.get("/ui/licenses", params={"status": "PUBLISHED"}).text, "license"))
        assert licenses[alpha] in ui.get("/ui/licenses").text  # rows link to their instances

        instances = _slugs(ui.get("/ui/instances").text, "instance")
        assert set(instances) == {alpha_instance, beta_instance}
        of_beta = ui.get("/ui/instances", params={"license": licenses[beta]}).text
        assert set(_slugs(of_beta, "instance")) == {beta_instance}
        # Another environment's license is no filter here: it is dropped, not followed.
        with _signed_in(other) as other_ui:
            theirs = _slugs(other_ui.get("/ui/licenses").text, "license")[foreign]
        unfiltered = ui.get("/ui/instances", params={"license": theirs}).text
        assert set(_slugs(unfiltered, "instance")) == {alpha_instance, beta_instance}
        found = _slugs(ui.get("/ui/instances", params={"q": "beta"}).text, "instance")
        assert set(found) == {beta_instance}
        assert "No instances." in ui.get("/ui/instances", params={"status": "INCIDENT"}).text
        healthy = ui.get("/ui/instances", params={"status": "HEALTHY"}).text
        assert set(_slugs(healthy, "instance")) == {alpha_instance, beta_instance}
        assert foreign_instance not in ui.get("/ui/instances").text


def test_the_lists_need_the_apis_read_scopes(tenant: Tenant, http: httpx.Client) -> None:
    billing = http.post("/v1/secrets/api/keys", json={"name": "ro", "scopes": ["read:billing"]})
    assert billing.status_code == 201, billing.text
    reader = Tenant(tenant.server, tenant.environment_id, billing.json()["api_key"])
    with _signed_in(reader) as ui:
        assert ui.get("/ui/wallets").status_code == 200
        assert ui.get("/ui/licenses").status_code == 403
        assert ui.get("/ui/instances").status_code == 403
    anonymous = httpx.get(tenant.server.base_url + "/ui/wallets", timeout=30)
    assert anonymous.status_code == 303
