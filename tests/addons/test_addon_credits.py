"""Credit grants of an add-on (scope ADDON): created and listed through the SDK, applied by
the grants job to the subscriptions while they have the add-on, once."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

import meterline.db.models  # noqa: F401 - every table mapped, as in the server
from meterline.credits import apply
from meterline.db.engine import Database
from meterline.settings import Settings
from tests.addons.test_addons import _addon, _weekly_subscription
from tests.conftest import Server


@pytest.fixture(scope="module")
def server_db(server: Server) -> Iterator[Database]:
    db = Database.connect(Settings(database_url=server.database_url))
    yield db
    db.dispose()


def _credits(http: httpx.Client, customer_id: str) -> list[Decimal]:
    wallets = http.get(f"/v1/customers/{customer_id}/wallets").json()
    return [Decimal(w["credit_balance"]) for w in wallets]


def test_an_addon_grant_credits_the_subscriptions_that_have_the_addon(
    fp: Any, http: httpx.Client, server_db: Database
) -> None:
    sub = _weekly_subscription(fp)
    bystander = _weekly_subscription(fp)  # never has the add-on
    extra = _addon(fp, "Bonus")
    grant = fp.credit_grants.create_credit_grant(
        name="Bonus credits", scope="ADDON", addon_id=extra.id, credits="10", cadence="ONETIME"
    )
    assert grant.scope == "ADDON" and grant.addon_id == extra.id
    listed = fp.credit_grants.get_addon_credit_grants(id=extra.id)
    assert [g.id for g in listed.items] == [grant.id]
    assert [g.id for g in fp.addons.get_addon(id=extra.id).credit_grants] == [grant.id]

    apply.run_once(server_db)
    assert _credits(http, sub.customer_id) == [], "not before the add-on is bought"
    fp.subscriptions.add_subscription_addon(subscription_id=sub.id, addon_id=extra.id)
    apply.run_once(server_db)
    apply.run_once(server_db)
    assert _credits(http, sub.customer_id) == [Decimal(10)]
    assert _credits(http, bystander.customer_id) == []

    for body, field in [
        ({"scope": "ADDON"}, "addon_id"),
        ({"scope": "PLAN", "plan_id": sub.plan_id, "addon_id": extra.id}, "addon_id"),
        ({"scope": "ADDON", "addon_id": extra.id, "plan_id": sub.plan_id}, "plan_id"),
    ]:
        bad = http.post(
            "/v1/creditgrants",
            json={"name": "x", "credits": "1", "cadence": "ONETIME", **body},
        )
        assert bad.status_code == 400 and bad.json()["details"]["field"] == field, bad.text
    missing = http.post(
        "/v1/creditgrants",
        json={
            "name": "x",
            "credits": "1",
            "cadence": "ONETIME",
            "scope": "ADDON",
            "addon_id": "addon_missing",
        },
    )
    assert missing.status_code == 404, missing.text
    assert http.get("/v1/addons/addon_missing/creditgrants").status_code == 404
