"""/v1 customer entitlements and usage summary (the upstream "entitlement check" reads).

Mounted before the customers router so that ``/customers/usage`` is not read as a
customer id.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fastapi import APIRouter, Query
from starlette.responses import Response

from meterline.api.deps import ReadSession, Vendor
from meterline.api.flexprice.catalog import feature_out
from meterline.api.flexprice.common import decimal_text, split_csv
from meterline.api.flexprice.customers import customer_named
from meterline.api.flexprice.subscriptions import aggregated_feature_out, source_out
from meterline.api.json import iso, json_response
from meterline.catalog import service as catalog
from meterline.customers import service as customers
from meterline.customers.models import Customer
from meterline.entitlements import checks

router = APIRouter(tags=["customers"])


def _feature_ids(
    session: Any, principal: Any, feature_ids: list[str] | None, lookup_keys: list[str] | None
) -> list[str] | None:
    ids = list(split_csv(feature_ids) or [])
    for key in split_csv(lookup_keys) or []:
        ids.append(catalog.get_feature_by_lookup_key(session, principal, key).id)
    return ids or None


def _entitlements(
    session: Any,
    principal: Any,
    customer: Customer,
    feature_ids: list[str] | None,
    subscription_ids: list[str] | None,
) -> Response:
    found = checks.customer_access(
        session,
        principal,
        customer,
        feature_ids=split_csv(feature_ids),
        subscription_ids=split_csv(subscription_ids),
    )
    return json_response(
        {"customer_id": customer.id, "features": [aggregated_feature_out(a) for a in found]}
    )


@router.get("/customers/usage", summary="A customer's usage of each entitled feature")
def customer_usage_summary(
    principal: Vendor,
    session: ReadSession,
    customer_id: str | None = None,
    customer_lookup_key: str | None = None,
    feature_ids: list[str] | None = Query(None, max_length=1000),
    feature_lookup_keys: list[str] | None = Query(None, max_length=1000),
    subscription_ids: list[str] | None = Query(None, max_length=1000),
) -> Response:
    customer = customer_named(
        session,
        principal,
        customer_id,
        customer_lookup_key,
        ("customer_id", "customer_lookup_key"),
    )
    found = checks.customer_access(
        session,
        principal,
        customer,
        feature_ids=_feature_ids(session, principal, feature_ids, feature_lookup_keys),
        subscription_ids=split_csv(subscription_ids),
        with_usage=True,
    )
    return json_response(summary_body(customer, found))


def summary_body(
    customer: Customer,
    accesses: Sequence[checks.FeatureAccess],
    render: Callable[[checks.FeatureAccess], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    features = [(render or summary_feature_out)(a) for a in accesses]
    return {
        "customer_id": customer.id,
        "features": features,
        "pagination": {"total": len(features), "limit": len(features), "offset": 0},
    }


def summary_feature_out(a: checks.FeatureAccess) -> dict[str, Any]:
    return {
        "feature": feature_out(a.feature, a.meter),
        "total_limit": None if a.usage_limit is None else int(a.usage_limit),
        "is_unlimited": a.is_unlimited,
        "current_usage": decimal_text(a.current_usage),
        # Upstream's fraction (usage / limit), not a percentage: 50 of 100 → "0.5".
        "usage_percent": decimal_text(a.usage_percent),
        "is_enabled": a.is_enabled,
        "is_soft_limit": a.is_soft_limit,
        "next_usage_reset_at": iso(a.window.end) if a.window and a.window.end.year < 9999 else None,
        "sources": [source_out(s) for s in a.sources],
    }


@router.get(
    "/customers/external/{external_id}/entitlements",
    summary="A customer's entitlements, by external id",
)
def customer_entitlements_by_external_id(
    external_id: str,
    principal: Vendor,
    session: ReadSession,
    feature_ids: list[str] | None = Query(None, max_length=1000),
    subscription_ids: list[str] | None = Query(None, max_length=1000),
) -> Response:
    customer = customers.get_customer_by_external_id(session, principal, external_id)
    return _entitlements(session, principal, customer, feature_ids, subscription_ids)


@router.get("/customers/{customer_id}/entitlements", summary="A customer's entitlements")
def customer_entitlements(
    customer_id: str,
    principal: Vendor,
    session: ReadSession,
    feature_ids: list[str] | None = Query(None, max_length=1000),
    subscription_ids: list[str] | None = Query(None, max_length=1000),
) -> Response:
    customer = customers.get_customer(session, principal, customer_id)
    return _entitlements(session, principal, customer, feature_ids, subscription_ids)
