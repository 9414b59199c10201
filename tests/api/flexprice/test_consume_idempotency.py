"""Check-and-consume idempotency is scoped to (environment, customer, feature, event_id),
and the events a consumption writes never collide with ingested event ids."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.flexprice.test_checks import _check, _setup
from tests.conftest import unique


def _usage(http: httpx.Client, s: dict[str, Any]) -> str:
    return str(_check(http, s).json()["usage"])


def _second_feature(http: httpx.Client, s: dict[str, Any], limit: int) -> dict[str, Any]:
    """Another metered feature granted by the same plan, for the same customer."""
    feature = http.post(
        "/v1/features",
        json={
            "name": "Seats",
            "type": "metered",
            "lookup_key": unique("seats"),
            "meter": {
                "name": "seats",
                "event_name": unique("seat"),
                "aggregation": {"type": "SUM", "field": "n"},
                "reset_usage": "BILLING_PERIOD",
            },
        },
    ).json()
    grant = http.post(
        "/v1/entitlements",
        json={
            "plan_id": s["sub"]["plan_id"],
            "feature_id": feature["id"],
            "feature_type": "metered",
            "usage_limit": limit,
            "usage_reset_period": "MONTHLY",
        },
    )
    assert grant.status_code == 201, grant.text
    return {**s, "feature": feature}


def test_an_event_id_used_by_another_customer_does_not_let_one_at_its_limit_through(
    http: httpx.Client,
) -> None:
    roomy = _setup(http, limit=10)
    full = _setup(http, limit=2)
    assert _check(http, full, consume=2, event_id="fill").json()["allowed"] is True
    assert _check(http, roomy, consume=1, event_id="shared").json()["allowed"] is True

    body = _check(http, full, consume=1, event_id="shared").json()
    assert (body["allowed"], body["duplicate"], body["reason"]) == (
        False,
        False,
        "limit_exceeded",
    )
    assert _usage(http, full) == "2"
    # And a key the full customer already used is still its own duplicate.
    again = _check(http, full, consume=2, event_id="fill").json()
    assert (again["allowed"], again["duplicate"], again["usage"]) == (True, True, "2")


def test_an_event_id_is_per_feature(http: httpx.Client) -> None:
    calls = _setup(http, limit=10)
    seats = _second_feature(http, calls, limit=10)
    first = _check(http, calls, consume=3, event_id="k").json()
    other = _check(http, seats, consume=4, event_id="k").json()
    assert (first["duplicate"], first["consumed"]) == (False, "3")
    assert (other["allowed"], other["duplicate"], other["consumed"]) == (True, False, "4")
    assert (_usage(http, calls), _usage(http, seats)) == ("3", "4")
    repeat = _check(http, seats, consume=4, event_id="k").json()
    assert (repeat["duplicate"], repeat["consumed"]) == (True, "0")
    assert _usage(http, seats) == "4"


def _ingest(http: httpx.Client, s: dict[str, Any], event_id: str) -> None:
    response = http.post(
        "/v1/events",
        json={
            "event_id": event_id,
            "event_name": s["meter_event"],
            "external_customer_id": s["customer"]["external_id"],
        },
    )
    assert response.status_code in (200, 201, 202), response.text


def test_a_count_consume_never_collides_with_ingested_event_ids(http: httpx.Client) -> None:
    s = _setup(http, limit=100, aggregation="COUNT")
    # Ingested before: an event with the consume's own key and ones shaped like its parts.
    for event_id in ("batch", "batch#1", "batch#2"):
        _ingest(http, s, event_id)
    assert _usage(http, s) == "3"
    body = _check(http, s, consume=3, event_id="batch").json()
    assert (body["allowed"], body["duplicate"], body["consumed"]) == (True, False, "3")
    assert _usage(http, s) == "6"  # all three consumed units stored, none dropped
    # Ingested after: ids shaped like another consume's parts are stored, not deduplicated
    # against it.
    assert _check(http, s, consume=2, event_id="later").json()["consumed"] == "2"
    for event_id in ("later", "later#1"):
        _ingest(http, s, event_id)
    assert _usage(http, s) == "10"
