"""Customers through the official flexprice SDK over real HTTP."""

from __future__ import annotations

import httpx
import pytest
from flexprice.models import errors

from tests.conftest import Tenant, new_tenant, unique


def test_customer_lifecycle_with_the_sdk(fp) -> None:  # type: ignore[no-untyped-def]
    external = unique("cust")
    created = fp.customers.create_customer(external_id=external, name="Acme", email="ops@acme.test")
    assert created.id.startswith("cust_")
    assert created.external_id == external
    assert fp.customers.get_customer(id=created.id).name == "Acme"
    assert fp.customers.get_customer_by_external_id(external_id=external).id == created.id

    found = fp.customers.query_customer(external_ids=[external])
    assert [c.id for c in found.items] == [created.id]
    assert found.pagination.total == 1

    updated = fp.customers.update_customer(
        id=created.id, name="Acme Inc", metadata={"tier": "gold"}
    )
    assert updated.name == "Acme Inc"
    assert updated.metadata == {"tier": "gold"}

    # create_customer declares no 409, so the SDK raises its generic error; the body is ours.
    with pytest.raises(errors.FlexpriceDefaultError) as clash:
        fp.customers.create_customer(external_id=external, name="Again")
    assert clash.value.status_code == 409
    assert clash.value.raw_response.json()["code"] == "already_exists"

    fp.customers.delete_customer(id=created.id)
    assert fp.customers.get_customer(id=created.id).status == "archived"
    assert fp.customers.query_customer(external_ids=[external]).items == []
    # Once archived, the external id is free again.
    again = fp.customers.create_customer(external_id=external, name="Acme 2")
    assert again.id != created.id


def test_unknown_external_id_is_a_not_found_error_response(fp) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(errors.ErrorResponse) as missing:
        fp.customers.get_customer_by_external_id(external_id="missing")
    assert missing.value.data.code == "not_found"
    assert missing.value.data.http_status_code == 404


def test_get_customer_404_keeps_the_error_shape(fp) -> None:  # type: ignore[no-untyped-def]
    # The SDK declares no 404 for get_customer: it raises its generic error, but the body
    # must still be the standard error shape.
    with pytest.raises(errors.FlexpriceDefaultError) as missing:
        fp.customers.get_customer(id="cust_missing")
    assert missing.value.status_code == 404
    body = missing.value.raw_response.json()
    assert body["code"] == "not_found"
    assert body["http_status_code"] == 404


def test_validation_errors_name_the_field(http: httpx.Client) -> None:
    missing = http.post("/v1/customers", json={"name": "No external id"})
    assert missing.status_code == 400
    assert "external_id" in missing.json()["details"]
    bad_email = http.post("/v1/customers", json={"external_id": "x", "name": "y", "email": "nope"})
    assert bad_email.status_code == 400
    assert "email" in bad_email.json()["details"]
    bad_tz = http.post(
        "/v1/customers", json={"external_id": "x", "name": "y", "timezone": "Mars/Base"}
    )
    assert bad_tz.status_code == 400
    assert bad_tz.json()["details"]["field"] == "timezone"


def test_customers_of_another_environment_are_not_found(tenant: Tenant) -> None:
    other = new_tenant(tenant.server)
    with tenant.client() as mine, other.client() as theirs:
        created = mine.post(
            "/v1/customers", json={"external_id": "shared-ext", "name": "Mine"}
        ).json()
        assert theirs.get(f"/v1/customers/{created['id']}").status_code == 404
        assert theirs.get("/v1/customers/external/shared-ext").status_code == 404
        assert theirs.delete(f"/v1/customers/{created['id']}").status_code == 404
        assert theirs.put(f"/v1/customers/{created['id']}", json={"name": "x"}).status_code == 404
        # The same external id may exist in each environment.
        assert (
            theirs.post(
                "/v1/customers", json={"external_id": "shared-ext", "name": "Theirs"}
            ).status_code
            == 201
        )
        assert mine.get(f"/v1/customers/{created['id']}").json()["name"] == "Mine"
