"""/v1 price sync: a plan's or an add-on's current prices pushed to its subscriptions.

Upstream starts a workflow and answers its ids; here the sync runs in the request (it is
bounded: ``price_sync.MAX_SYNCED_SUBSCRIPTIONS``), so the answer carries the ids of the
run and, as a Meterline extension, its report."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.responses import Response

from meterline.addons import sync as addon_sync
from meterline.api.deps import Vendor, WriteSession
from meterline.api.json import json_response
from meterline.db.base import new_id
from meterline.subscriptions import price_sync
from meterline.subscriptions.price_sync import SyncReport

router = APIRouter(tags=["plans", "addons"])


def report_out(what: str, entity_id: str, report: SyncReport) -> dict[str, Any]:
    return {
        "message": (
            f"{what} prices synced: {report.subscriptions_changed} of"
            f" {report.subscriptions_checked} subscriptions changed"
            f" ({report.line_items_added} line items added, {report.line_items_ended} ended)"
            " from their next billing period"
        ),
        "workflow_id": f"price-sync-{entity_id}",
        "run_id": new_id("run"),
        "report": {
            "subscriptions_checked": report.subscriptions_checked,
            "subscriptions_changed": report.subscriptions_changed,
            "line_items_added": report.line_items_added,
            "line_items_ended": report.line_items_ended,
            "effective_at": report.effective_at,
        },
    }


@router.post("/plans/{plan_id}/sync/subscriptions", summary="Sync a plan's prices")
def sync_plan_prices(plan_id: str, principal: Vendor, session: WriteSession) -> Response:
    report = price_sync.sync_plan_prices(session, principal, plan_id)
    return json_response(report_out("plan", plan_id, report))


@router.post("/addons/{addon_id}/sync/subscriptions", summary="Sync an add-on's prices")
def sync_addon_prices(addon_id: str, principal: Vendor, session: WriteSession) -> Response:
    report = addon_sync.sync_addon_prices(session, principal, addon_id)
    return json_response(report_out("add-on", addon_id, report))
