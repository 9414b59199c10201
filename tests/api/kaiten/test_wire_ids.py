"""Ids on /api are UUIDs (the contract's, and what clients keep in UUID columns), and an
id given back is accepted as that UUID or as Meterline's own prefixed form (/v1's)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from kaitencloud import KaitenClient, NotFoundError

from tests.conftest import Tenant

START = datetime(2026, 1, 1, tzinfo=UTC)
END = datetime(2030, 1, 1, tzinfo=UTC)


def _is_uuid(value: str) -> bool:
    return str(uuid.UUID(value)) == value


def test_ids_are_uuids_and_both_forms_are_accepted(kaiten: KaitenClient, tenant: Tenant) -> None:
    seats = kaiten.entitlements.create(name="Seats", slug="seats", type="NUMBER")
    growth = kaiten.licenses.create(name="Growth", slug="growth", type="PAID")
    kaiten.licenses.associate_entitlement("growth", "seats", 5)
    grant = kaiten.licenses.get_entitlement("growth", "seats")
    customer = kaiten.customers.create(name="Acme", slug="acme")
    for value in (seats.id, growth.id, customer.id, grant.license_id):
        assert _is_uuid(value), value
    assert grant.license_id == growth.id
    family = kaiten.license_families.get("growth")
    assert _is_uuid(family.id)

    instance = kaiten.instances.create(
        name="Acme prod",
        slug="acme-prod",
        customer_id=customer.id,
        license_id=growth.id,
        start_license_date=START,
        end_license_date=END,
    )
    assert _is_uuid(instance.id)
    assert (instance.customer_id, instance.license_id) == (customer.id, growth.id)
    usage = kaiten.instances.get_usage("acme-prod", "seats")
    assert (usage.entitlement_id, usage.license_id) == (seats.id, growth.id)

    # The same customer's /v1 id is the prefixed form of the same 128 bits.
    with tenant.client() as v1:
        billing_id = v1.get("/v1/customers/external/acme").json()["id"]
    assert billing_id.startswith("cust_") and billing_id != customer.id
    second = kaiten.instances.create(
        name="Acme staging",
        slug="acme-staging",
        customer_id=billing_id,
        license_id=growth.id.replace("-", ""),
        start_license_date=START,
        end_license_date=END,
    )
    assert second.customer_id == customer.id

    with pytest.raises(NotFoundError):
        kaiten.instances.create(
            name="Nobody's",
            slug="nobody",
            customer_id=str(uuid.uuid4()),
            license_id=growth.id,
            start_license_date=START,
            end_license_date=END,
        )
