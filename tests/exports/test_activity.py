"""The activity log through the SDK: each write of a request is one entry with its actor,
action, entity and diff; every filter of list_activity filters; one tenant never sees
another's entries."""

from __future__ import annotations

import httpx
import pytest
from flexprice.models import errors

from tests.conftest import Tenant, new_tenant, unique


def test_writes_are_logged_with_actor_entity_and_diff(tenant: Tenant) -> None:
    with tenant.flexprice() as fp, tenant.client() as http:
        ext = unique("act")
        customer = fp.customers.create_customer(external_id=ext, name="Before", email="b@x.io")
        fp.customers.update_customer(id=customer.id, name="After")
        fp.customers.delete_customer(id=customer.id)

        listed = fp.activity.list_activity(entity_id=customer.id, entity_type="customer")
        actions = [e.action for e in listed.items]
        assert actions == ["archived", "updated", "created"], actions
        created = listed.items[2]
        assert created.entity.type == "customer" and created.customer_id == customer.id
        assert created.actor.type == "user" and created.actor.id
        assert created.source == "api" and created.request_id and created.occurred_at

        # The diff (the SDK's model of ``state`` keeps no members: read it from the wire).
        wire = http.post("/v1/activity", json={"entity_id": customer.id}).json()["items"]
        updated = wire[1]["state"]
        assert updated["before"] == {"name": "Before"} and updated["after"] == {"name": "After"}
        assert wire[2]["state"]["after"]["external_id"] == ext
        assert wire[0]["state"]["after"]["status"] == "archived"

        one = fp.activity.get_activity(id=created.id)
        assert one.id == created.id and one.action == "created"

        # Filters: actions, actor, customer, request id, the time range; paged by cursor.
        actor = created.actor.id
        assert [
            e.id
            for e in fp.activity.list_activity(customer_id=customer.id, actions=["updated"]).items
        ] == [listed.items[1].id]
        assert fp.activity.list_activity(customer_id=customer.id, actor_id="nobody").items == []
        mine = fp.activity.list_activity(
            customer_id=customer.id, actor_id=actor, actor_types=["user"]
        )
        assert len(mine.items) == 3
        assert (
            fp.activity.list_activity(customer_id=customer.id, actor_types=["api_key"]).items == []
        )
        by_request = fp.activity.list_activity(request_id=created.request_id)
        assert [e.id for e in by_request.items] == [created.id]
        later = fp.activity.list_activity(customer_id=customer.id, start_time=created.occurred_at)
        assert len(later.items) == 3
        assert (
            fp.activity.list_activity(customer_id=customer.id, end_time=created.occurred_at).items
            == []
        )
        first = fp.activity.list_activity(customer_id=customer.id, limit=2)
        assert len(first.items) == 2 and first.pagination.has_more
        rest = fp.activity.list_activity(
            customer_id=customer.id, limit=2, cursor=first.pagination.next_cursor
        )
        assert [e.id for e in rest.items] == [created.id] and not rest.pagination.has_more

        # Refused: an expansion, a cursor that is not one, a range that ends before it starts.
        for bad in ({"expand": ["actor"]}, {"cursor": "not-a-cursor"}):
            with pytest.raises(errors.ErrorResponse) as refused:
                fp.activity.list_activity(**bad)
            assert refused.value.raw_response.status_code == 400
            assert next(iter(bad)) in refused.value.raw_response.text
        response = http.post(
            "/v1/activity",
            json={"start_time": "2030-01-02T00:00:00Z", "end_time": "2030-01-01T00:00:00Z"},
        )
        assert response.status_code == 400 and response.json()["details"]["field"] == "end_time"

        # Secrets are never copied: the tenant's key was logged with its hash redacted.
        [key] = http.post("/v1/activity", json={"entity_type": "api_key"}).json()["items"]
        assert key["state"]["after"]["key_hash"] == "[redacted]"
        assert tenant.key not in str(key)

        # A read writes nothing: the log did not grow while it was read.
        assert len(fp.activity.list_activity(entity_id=customer.id).items) == 3

    other = new_tenant(tenant.server)
    with other.flexprice() as fp_other:
        assert fp_other.activity.list_activity(entity_id=customer.id).items == []
        with pytest.raises(errors.ErrorResponse) as hidden:
            fp_other.activity.get_activity(id=created.id)
        assert hidden.value.raw_response.status_code == 404


def test_a_refused_write_logs_nothing_and_a_licensing_write_names_its_surface(
    tenant: Tenant,
) -> None:
    with tenant.client() as http:
        before = http.post("/v1/activity", json={"limit": 200}).json()["items"]
        bad = http.post("/v1/customers", json={"external_id": "", "name": "x"})
        assert bad.status_code == 400
        assert http.post("/v1/activity", json={"limit": 200}).json()["items"] == before

    slug = unique("kc")
    headers = {"Authorization": f"Bearer {tenant.key}"}
    with httpx.Client(base_url=tenant.server.base_url + "/api", headers=headers) as api:
        made = api.post("/customers", json={"name": "Licensed", "slug": slug})
        assert made.status_code == 201, made.text
    with tenant.client() as http:
        [entry] = http.post("/v1/activity", json={"entity_type": "customer", "limit": 1}).json()[
            "items"
        ]
        assert entry["source"] == "licensing" and entry["action"] == "created"
        assert entry["state"]["after"]["slug"] == slug
