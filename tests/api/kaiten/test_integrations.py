"""Integrations through the official SDK: customers' and instances' links to third-party
records, the integrations field of their creates, and the lookup and upsert by record."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx
import pytest
from kaitencloud import (
    AsyncKaitenClient,
    ConflictError,
    KaitenClient,
    NotFoundError,
    UnprocessableEntityError,
)

from meterline.api.kaiten.ids import stored_id
from tests.conftest import Tenant, new_tenant

START = datetime(2026, 1, 1, tzinfo=UTC)
END = datetime(2030, 1, 1, tzinfo=UTC)
LATER = datetime(2031, 6, 1, tzinfo=UTC)


def _license(kaiten: KaitenClient, slug: str) -> str:
    return kaiten.licenses.create(name=f"{slug} license", slug=slug, type="PAID").id


def _instance(kaiten: KaitenClient, slug: str, customer_id: str, license_id: str) -> None:
    kaiten.instances.create(
        name=slug,
        slug=slug,
        customer_id=customer_id,
        license_id=license_id,
        start_license_date=START,
        end_license_date=END,
    )


def _location(error: UnprocessableEntityError) -> str:
    return str(error.problem)


def test_customer_integration_crud(kaiten: KaitenClient) -> None:
    kaiten.customers.create(name="Acme", slug="acme")
    created = kaiten.customers.create_integration(
        "acme",
        "attio",
        external_id="rec-1",
        metadata={"list": "enterprise"},
        web_url="https://app.attio.com/acme/rec-1",
    )
    assert (created.external_id, created.metadata, created.web_url, created.last_error) == (
        "rec-1",
        {"list": "enterprise"},
        "https://app.attio.com/acme/rec-1",
        None,
    )
    assert created.synced_at.tzinfo is not None
    got = kaiten.customers.get_integration("acme", "attio")
    assert got == created
    # The customer shows its links, by adapter.
    customer = kaiten.customers.get("acme")
    assert customer.integrations is not None
    assert customer.integrations["attio"].external_id == "rec-1"
    assert kaiten.customers.list()[0].integrations == customer.integrations

    with pytest.raises(ConflictError):
        kaiten.customers.create_integration("acme", "attio", external_id="rec-2")

    # PUT replaces the link whole: what is left out is cleared.
    replaced = kaiten.customers.update_integration(
        "acme", "attio", external_id="rec-2", last_error="rate limited"
    )
    assert (replaced.external_id, replaced.metadata, replaced.web_url, replaced.last_error) == (
        "rec-2",
        None,
        None,
        "rate limited",
    )
    assert replaced.synced_at >= created.synced_at
    assert kaiten.customers.get_integration("acme", "attio").external_id == "rec-2"

    kaiten.customers.delete_integration("acme", "attio")
    with pytest.raises(NotFoundError):
        kaiten.customers.get_integration("acme", "attio")
    with pytest.raises(NotFoundError):
        kaiten.customers.delete_integration("acme", "attio")
    with pytest.raises(NotFoundError):
        kaiten.customers.update_integration("acme", "attio", external_id="rec-3")
    assert kaiten.customers.get("acme").integrations is None
    with pytest.raises(NotFoundError):
        kaiten.customers.create_integration("nobody", "attio", external_id="rec-1")
    with pytest.raises(NotFoundError):
        kaiten.customers.get_integration("nobody", "attio")


def test_a_record_links_one_owner_of_each_kind(kaiten: KaitenClient) -> None:
    kaiten.customers.create(name="One", slug="one")
    kaiten.customers.create(name="Two", slug="two")
    kaiten.customers.create_integration("one", "hubspot", external_id="42")
    with pytest.raises(ConflictError):
        kaiten.customers.create_integration("two", "hubspot", external_id="42")
    kaiten.customers.create_integration("two", "hubspot", external_id="43")
    with pytest.raises(ConflictError):
        kaiten.customers.update_integration("two", "hubspot", external_id="42")
    # The same record id in another adapter is another record.
    kaiten.customers.create_integration("two", "attio", external_id="42")


def test_instance_integration_crud(kaiten: KaitenClient) -> None:
    customer = kaiten.customers.create(name="Acme", slug="acme")
    _instance(kaiten, "acme-prod", customer.id, _license(kaiten, "pro"))
    created = kaiten.instances.create_integration(
        "acme-prod", "attio", external_id="dep-1", metadata={"n": 1}, last_error="timeout"
    )
    assert (created.external_id, created.metadata, created.last_error) == (
        "dep-1",
        {"n": 1},
        "timeout",
    )
    assert kaiten.instances.get_integration("acme-prod", "attio") == created
    instance = kaiten.instances.get("acme-prod")
    assert instance.integrations is not None
    assert instance.integrations["attio"].metadata == {"n": 1}
    assert kaiten.instances.list()[0].integrations == instance.integrations
    with pytest.raises(ConflictError):
        kaiten.instances.create_integration("acme-prod", "attio", external_id="dep-2")

    replaced = kaiten.instances.update_integration(
        "acme-prod", "attio", external_id="dep-2", web_url="http://crm.example.com/dep-2"
    )
    assert (replaced.external_id, replaced.metadata, replaced.web_url, replaced.last_error) == (
        "dep-2",
        None,
        "http://crm.example.com/dep-2",
        None,
    )
    kaiten.instances.delete_integration("acme-prod", "attio")
    with pytest.raises(NotFoundError):
        kaiten.instances.get_integration("acme-prod", "attio")
    with pytest.raises(NotFoundError):
        kaiten.instances.delete_integration("acme-prod", "attio")
    with pytest.raises(NotFoundError):
        kaiten.instances.create_integration("nowhere", "attio", external_id="x")


def test_integrations_on_create(kaiten: KaitenClient) -> None:
    customer = kaiten.customers.create(
        name="Acme",
        slug="acme",
        integrations={
            "attio": {"external_id": "rec-1", "web_url": "https://a.example/rec-1"},
            "hubspot": {"external_id": "77", "metadata": {"owner": "sam"}},
        },
    )
    assert customer.integrations is not None
    assert sorted(customer.integrations) == ["attio", "hubspot"]
    assert customer.integrations["hubspot"].metadata == {"owner": "sam"}
    assert kaiten.customers.get_integration("acme", "attio").web_url == "https://a.example/rec-1"

    instance = kaiten.instances.create(
        name="Prod",
        slug="prod",
        customer_id=customer.id,
        license_id=_license(kaiten, "pro"),
        start_license_date=START,
        end_license_date=END,
        integrations={"attio": {"external_id": "dep-1", "last_error": "none yet"}},
    )
    assert instance.integrations is not None
    assert instance.integrations["attio"].last_error == "none yet"
    assert kaiten.integrations.get_instance("attio", "dep-1").slug == "prod"
    assert kaiten.integrations.get_customer("hubspot", "77").slug == "acme"

    # A record already linked refuses the create whole.
    with pytest.raises(ConflictError):
        kaiten.customers.create(
            name="Copy", slug="copy", integrations={"attio": {"external_id": "rec-1"}}
        )
    with pytest.raises(NotFoundError):
        kaiten.customers.get("copy")

    # Deleting the owner deletes its links: the records are free again.
    kaiten.instances.delete("prod")
    with pytest.raises(NotFoundError):
        kaiten.integrations.get_instance("attio", "dep-1")
    kaiten.customers.delete("acme")
    with pytest.raises(NotFoundError):
        kaiten.integrations.get_customer("attio", "rec-1")
    again = kaiten.customers.create(
        name="Acme again", slug="acme", integrations={"attio": {"external_id": "rec-1"}}
    )
    assert kaiten.integrations.get_customer("attio", "rec-1").name == again.name


def test_upsert_customer(kaiten: KaitenClient) -> None:
    with pytest.raises(NotFoundError):
        kaiten.integrations.get_customer("attio", "rec-9")
    created = kaiten.integrations.upsert_customer(
        "attio",
        "rec-9",
        name="Globex",
        domain="globex.com",
        web_url="https://app.attio.com/rec-9",
        integration_metadata={"stage": "lead"},
    )
    assert (created.name, created.slug, created.domain, created.web_url) == (
        "Globex",
        "globex",
        "globex.com",
        "https://app.attio.com/rec-9",
    )
    assert (created.integration_metadata, created.error) == ({"stage": "lead"}, None)
    assert kaiten.integrations.get_customer("attio", "rec-9") == created
    link = kaiten.customers.get_integration("globex", "attio")
    assert (link.external_id, link.metadata) == ("rec-9", {"stage": "lead"})

    # An update changes what is sent and keeps the rest.
    updated = kaiten.integrations.upsert_customer(
        "attio", "rec-9", name="Globex Corp", error="sync failed"
    )
    assert (updated.name, updated.slug, updated.domain, updated.web_url, updated.error) == (
        "Globex Corp",
        "globex",
        "globex.com",
        "https://app.attio.com/rec-9",
        "sync failed",
    )
    assert updated.integration_metadata == {"stage": "lead"}
    assert kaiten.customers.get("globex").name == "Globex Corp"
    assert kaiten.customers.get_integration("globex", "attio").last_error == "sync failed"
    assert len(kaiten.customers.list()) == 1

    with pytest.raises(UnprocessableEntityError) as immutable:
        kaiten.integrations.upsert_customer("attio", "rec-9", slug="other")
    assert "slug" in _location(immutable.value)
    with pytest.raises(UnprocessableEntityError) as nameless:
        kaiten.integrations.upsert_customer("attio", "rec-new", domain="x.com")
    assert "name" in _location(nameless.value)
    with pytest.raises(ConflictError):  # the slug is another customer's
        kaiten.integrations.upsert_customer("attio", "rec-new", name="Globex", slug="globex")


def test_upsert_instance(kaiten: KaitenClient) -> None:
    kaiten.integrations.upsert_customer("attio", "c-1", name="Acme", slug="acme")
    kaiten.integrations.upsert_customer("attio", "c-2", name="Initech", slug="initech")
    license_id = _license(kaiten, "pro")
    zone = kaiten.deployment_zones.create(name="EU", type="production", slug="eu")
    with pytest.raises(NotFoundError):
        kaiten.integrations.get_instance("attio", "i-1")

    created = kaiten.integrations.upsert_instance(
        "attio",
        "i-1",
        name="Acme prod",
        slug="acme-prod",
        description="primary",
        customer_external_id="c-1",
        license_id=license_id,
        deployment_zone_id=zone.id,
        start_license_date=START,
        end_license_date=END,
        metadata={"tier": "gold"},
        web_url="https://app.attio.com/i-1",
        integration_metadata={"pipeline": "ops"},
    )
    assert (created.name, created.slug, created.description) == (
        "Acme prod",
        "acme-prod",
        "primary",
    )
    assert (created.customer_external_id, created.license_id, created.deployment_zone_id) == (
        "c-1",
        license_id,
        zone.id,
    )
    assert (created.start_license_date, created.end_license_date) == (START, END)
    assert (created.web_url, created.integration_metadata) == (
        "https://app.attio.com/i-1",
        {"pipeline": "ops"},
    )
    assert kaiten.integrations.get_instance("attio", "i-1") == created
    instance = kaiten.instances.get("acme-prod")
    assert (instance.customer_slug, instance.metadata) == ("acme", {"tier": "gold"})
    assert instance.integrations is not None
    assert instance.integrations["attio"].external_id == "i-1"

    # An update: moved to another customer's record, renamed, extended; the rest kept.
    moved = kaiten.integrations.upsert_instance(
        "attio", "i-1", customer_external_id="c-2", end_license_date=LATER, error="stale"
    )
    assert (moved.customer_external_id, moved.end_license_date, moved.error) == (
        "c-2",
        LATER,
        "stale",
    )
    assert (moved.name, moved.description, moved.deployment_zone_id) == (
        "Acme prod",
        "primary",
        zone.id,
    )
    assert moved.integration_metadata == {"pipeline": "ops"}
    assert kaiten.instances.get("acme-prod").customer_slug == "initech"
    renamed = kaiten.integrations.upsert_instance("attio", "i-1", slug="initech-prod")
    assert renamed.slug == "initech-prod"
    assert kaiten.instances.get_integration("initech-prod", "attio").last_error == "stale"
    assert len(kaiten.instances.list()) == 1

    # Creating needs the customer's record, the license and the dates; each is named.
    with pytest.raises(UnprocessableEntityError) as missing:
        kaiten.integrations.upsert_instance("attio", "i-2", name="x", license_id=license_id)
    assert "customerExternalId" in _location(missing.value)
    with pytest.raises(UnprocessableEntityError) as no_dates:
        kaiten.integrations.upsert_instance(
            "attio", "i-2", name="x", customer_external_id="c-1", license_id=license_id
        )
    assert "startLicenseDate" in _location(no_dates.value)
    with pytest.raises(NotFoundError):  # no customer linked to that record
        kaiten.integrations.upsert_instance(
            "attio",
            "i-2",
            name="x",
            customer_external_id="c-404",
            license_id=license_id,
            start_license_date=START,
            end_license_date=END,
        )
    with pytest.raises(NotFoundError):  # the customer record of another adapter
        kaiten.integrations.upsert_instance("hubspot", "i-3", name="x", customer_external_id="c-1")


def test_bad_input_is_refused_by_name(api: httpx.Client) -> None:
    assert api.post("/customers", json={"name": "Acme", "slug": "acme"}).status_code == 201
    link = "/customers/acme/integrations"

    def refused(response: httpx.Response, location: str) -> None:
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["location"] == location, response.text

    refused(api.post(f"{link}/attio", json={}), "body.external_id")
    refused(api.post(f"{link}/attio", json={"external_id": ""}), "body.external_id")
    refused(api.post(f"{link}/attio", json={"external_id": "x" * 256}), "body.external_id")
    refused(api.post(f"{link}/attio", json={"external_id": "1", "color": 1}), "body.color")
    for url in ("ftp://x.example/1", "javascript:alert(1)", "https://", "https://a b"):
        refused(
            api.post(f"{link}/attio", json={"external_id": "1", "web_url": url}), "body.web_url"
        )
    long_url = "https://x.example/" + "a" * 2048
    refused(
        api.post(f"{link}/attio", json={"external_id": "1", "web_url": long_url}), "body.web_url"
    )
    refused(
        api.post(f"{link}/attio", json={"external_id": "1", "last_error": "e" * 2001}),
        "body.last_error",
    )
    many = {f"k{i}": i for i in range(101)}
    refused(api.post(f"{link}/attio", json={"external_id": "1", "metadata": many}), "body.metadata")
    refused(api.put(f"{link}/attio", json={"external_id": "1", "metadata": []}), "body.metadata")
    for name in ("Attio", "a", "-attio", "a_b", "x" * 101):
        response = api.post(f"{link}/{name}", json={"external_id": "1"})
        refused(response, "path.integrationName")
    refused(api.get("/integration/Attio/customer/1"), "path.adapter")
    refused(api.get("/integration/attio/instance/" + "x" * 256), "path.externalId")
    refused(
        api.post(
            "/customers",
            json={"name": "B", "integrations": {"Bad Name": {"external_id": "1"}}},
        ),
        "body.integrations.Bad Name.[key]",
    )
    refused(
        api.post("/customers", json={"name": "B", "integrations": {"attio": {}}}),
        "body.integrations.attio.external_id",
    )
    too_many = {f"a{i:02}": {"external_id": str(i)} for i in range(21)}
    refused(
        api.post("/customers", json={"name": "B", "integrations": too_many}), "body.integrations"
    )
    refused(
        api.patch("/integration/attio/customer/1", json={"name": "n", "integrationMetadata": 1}),
        "body.integrationMetadata",
    )
    refused(api.patch("/integration/attio/customer/1", json={"webUrl": "x"}), "body.webUrl")
    refused(api.patch("/integration/attio/instance/1", json={"licenseId": ""}), "body.licenseId")
    refused(
        api.patch("/integration/attio/instance/1", json={"startLicenseDate": "yesterday"}),
        "body.startLicenseDate",
    )
    refused(
        api.patch("/integration/attio/instance/1", json={"external_id": "1"}), "body.external_id"
    )
    # Unknown records answer 404 in the /api problem shape.
    missing = api.get("/integration/attio/customer/nobody")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert missing.json()["status"] == 404


def test_another_tenant_cannot_read_or_overwrite(tenant: Tenant, kaiten: KaitenClient) -> None:
    customer = kaiten.customers.create(
        name="Acme", slug="acme", integrations={"attio": {"external_id": "rec-1"}}
    )
    _instance(kaiten, "acme-prod", customer.id, _license(kaiten, "pro"))
    kaiten.instances.create_integration("acme-prod", "attio", external_id="dep-1")
    other = new_tenant(tenant.server)
    with KaitenClient(base_url=other.server.base_url, token=other.key, max_retries=0) as intruder:
        with pytest.raises(NotFoundError):
            intruder.customers.get_integration("acme", "attio")
        with pytest.raises(NotFoundError):
            intruder.instances.get_integration("acme-prod", "attio")
        with pytest.raises(NotFoundError):
            intruder.customers.update_integration("acme", "attio", external_id="evil")
        with pytest.raises(NotFoundError):
            intruder.instances.delete_integration("acme-prod", "attio")
        with pytest.raises(NotFoundError):
            intruder.integrations.get_customer("attio", "rec-1")
        with pytest.raises(NotFoundError):
            intruder.integrations.get_instance("attio", "dep-1")
        # The intruder's upsert of the same record makes its own customer, not ours.
        own = intruder.integrations.upsert_customer("attio", "rec-1", name="Intruder")
        assert own.name == "Intruder"
        theirs = intruder.integrations.upsert_instance(
            "attio",
            "dep-1",
            name="evil",
            customer_external_id="rec-1",
            license_id=_license(intruder, "pro"),
            start_license_date=START,
            end_license_date=END,
        )
        assert (theirs.name, theirs.customer_external_id) == ("evil", "rec-1")
        assert [i.name for i in intruder.instances.list()] == ["evil"]
    assert kaiten.integrations.get_customer("attio", "rec-1").name == "Acme"
    assert kaiten.instances.get_integration("acme-prod", "attio").external_id == "dep-1"
    assert kaiten.integrations.get_instance("attio", "dep-1").name == "acme-prod"


def test_async_integration_flows(tenant: Tenant, kaiten: KaitenClient) -> None:
    license_id = _license(kaiten, "pro")

    async def flow() -> None:
        async with AsyncKaitenClient(
            base_url=tenant.server.base_url, token=tenant.key, max_retries=0
        ) as client:
            customer = await client.customers.create(
                name="Async", slug="async", integrations={"attio": {"external_id": "a-1"}}
            )
            await client.customers.create_integration("async", "hubspot", external_id="h-1")
            await client.customers.update_integration(
                "async", "hubspot", external_id="h-2", metadata={"k": "v"}
            )
            got = await client.customers.get_integration("async", "hubspot")
            assert (got.external_id, got.metadata) == ("h-2", {"k": "v"})
            await client.customers.delete_integration("async", "hubspot")
            assert (await client.integrations.get_customer("attio", "a-1")).slug == "async"
            upserted = await client.integrations.upsert_customer("attio", "a-1", domain="async.io")
            assert (upserted.name, upserted.domain) == ("Async", "async.io")

            await client.instances.create(
                name="Async prod",
                slug="async-prod",
                customer_id=customer.id,
                license_id=license_id,
                start_license_date=START,
                end_license_date=END,
            )
            await client.instances.create_integration("async-prod", "attio", external_id="d-1")
            await client.instances.update_integration("async-prod", "attio", external_id="d-2")
            assert (
                await client.instances.get_integration("async-prod", "attio")
            ).external_id == "d-2"
            instance = await client.integrations.upsert_instance(
                "attio", "d-2", description="synced"
            )
            assert (instance.description, instance.customer_external_id) == ("synced", "a-1")
            assert (await client.integrations.get_instance("attio", "d-2")).slug == "async-prod"
            await client.instances.delete_integration("async-prod", "attio")
            created = await client.integrations.upsert_instance(
                "attio",
                "d-3",
                name="Async two",
                customer_external_id="a-1",
                license_id=license_id,
                start_license_date=START,
                end_license_date=END,
            )
            assert (created.slug, created.description) == ("async-two", "")

    asyncio.run(flow())


def test_a_customer_archived_on_v1_frees_its_records(
    kaiten: KaitenClient, http: httpx.Client
) -> None:
    first = kaiten.integrations.upsert_customer("attio", "rec-1", name="Old", slug="old")
    customer_id = stored_id(kaiten.customers.get("old").id, "cust")
    archived = http.delete(f"/v1/customers/{customer_id}")
    assert archived.status_code in (200, 204), archived.text
    with pytest.raises(NotFoundError):
        kaiten.integrations.get_customer("attio", "rec-1")
    again = kaiten.integrations.upsert_customer("attio", "rec-1", name="New", slug="new")
    assert (first.slug, again.slug) == ("old", "new")
    assert kaiten.integrations.get_customer("attio", "rec-1").name == "New"
