"""One customer, two views: /api (Kaiten: name, externalCustomerId, domain; PUT replaces
them) and /v1 (Flexprice: external_id, name, email, ...; PUT changes what it is given).

Every combination of omitted and given fields, through both surfaces in turn, against a
model of what each view must show: neither view ever loses what the other set, the billing
external id keeps finding the customer, and what the Kaiten SDK leaves out of its full
replacement reads back cleared.
"""

from __future__ import annotations

import itertools
import uuid
from typing import Any

import httpx
import pytest

from tests.conftest import Tenant

# (externalCustomerId given?, domain given?) for an /api PUT; (external_id, email) for /v1.
API_PUTS = list(itertools.product([False, True], repeat=2))
V1_PUTS = list(itertools.product([False, True], repeat=2))


class Views:
    """What each surface must show, updated with every write."""

    def __init__(self, slug: str) -> None:
        self.slug = slug
        self.api: dict[str, Any] = {}
        self.v1: dict[str, Any] = {}
        self.v1_id = ""  # the customer's /v1 id, once known


def _check(api: httpx.Client, v1: httpx.Client, views: Views) -> None:
    got = api.get(f"/customers/{views.slug}")
    assert got.status_code == 200, got.text
    body = got.json()
    assert {k: body[k] for k in views.api} == views.api
    found = v1.get(f"/v1/customers/external/{views.v1['external_id']}")
    assert found.status_code == 200, found.text
    assert {k: found.json().get(k) for k in views.v1} == views.v1
    assert found.json()["id"] == views.v1_id


def _api_put(api: httpx.Client, views: Views, step: int, given: tuple[bool, bool]) -> None:
    with_external, with_domain = given
    body: dict[str, Any] = {"name": f"api name {step}"}
    if with_external:
        body["externalCustomerId"] = f"crm-{step}-{uuid.uuid4().hex[:6]}"
    if with_domain:
        body["domain"] = f"d{step}.example.com"
    assert api.put(f"/customers/{views.slug}", json=body).status_code == 204
    views.api = {
        "name": body["name"],
        "externalCustomerId": body.get("externalCustomerId"),
        "domain": body.get("domain"),
    }
    views.v1["name"] = body["name"]  # the one field both views share


def _v1_put(v1: httpx.Client, views: Views, step: int, given: tuple[bool, bool]) -> None:
    with_external, with_email = given
    body: dict[str, Any] = {}
    if with_external:
        body["external_id"] = f"bill-{step}-{uuid.uuid4().hex[:6]}"
    if with_email:
        body["email"] = f"billing{step}@example.com"
    answer = v1.put(f"/v1/customers/{views.v1_id}", json=body)
    assert answer.status_code == 200, answer.text
    views.v1.update(body)


@pytest.mark.parametrize("created_on", ["api-with-external-id", "api-without", "v1"])
def test_neither_view_loses_what_the_other_set(
    tenant: Tenant, api: httpx.Client, created_on: str
) -> None:
    slug = f"c-{uuid.uuid4().hex[:8]}"
    views = Views(slug)
    with tenant.client() as v1:
        if created_on == "v1":
            answer = v1.post(
                "/v1/customers",
                json={"external_id": slug, "name": "v1 name", "email": "a@example.com"},
            )
            assert answer.status_code == 201, answer.text
            views.v1 = {"external_id": slug, "name": "v1 name", "email": "a@example.com"}
            # What /v1 set shows on /api until /api replaces it.
            views.api = {"name": "v1 name", "externalCustomerId": slug}
            # (its slug is derived from the external id, already a slug here)
        else:
            body: dict[str, Any] = {"name": "api name", "slug": slug, "domain": "a.example.com"}
            if created_on == "api-with-external-id":
                body["externalCustomerId"] = f"crm-{slug}"
            answer = api.post("/customers", json=body)
            assert answer.status_code == 201, answer.text
            # Billing needs an id: the one sent, else the slug; the Kaiten view keeps what
            # was sent (nothing is not the slug).
            views.v1 = {"external_id": body.get("externalCustomerId", slug), "name": "api name"}
            views.api = {
                "name": "api name",
                "externalCustomerId": body.get("externalCustomerId"),
                "domain": "a.example.com",
            }
        views.v1_id = v1.get(f"/v1/customers/external/{views.v1['external_id']}").json()["id"]
        _check(api, v1, views)
        step = 0
        # Every /api replacement after every /v1 change, and the other way round.
        for api_given, v1_given in itertools.product(API_PUTS, V1_PUTS):
            step += 1
            _api_put(api, views, step, api_given)
            _check(api, v1, views)
            step += 1
            _v1_put(v1, views, step, v1_given)
            _check(api, v1, views)
