"""/v1 subscription plan changes: preview and execute, v1 and v2 (subscriptions/changes.py).

A preview runs the execution in the request's transaction, renders it and rolls it back:
what it shows is what the execution bills, to the cent, when both run on the same day.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi import APIRouter
from pydantic import Field
from sqlalchemy.orm import Session
from starlette.responses import Response

from meterline.api.deps import AppSettings, Vendor, WriteSession
from meterline.api.flexprice.common import WireModel, decimal_text
from meterline.api.flexprice.invoices import invoice_out
from meterline.api.flexprice.subscriptions import full_subscription, line_item_out
from meterline.api.json import iso, json_response
from meterline.invoicing import service as invoices
from meterline.invoicing.lines import LineDraft
from meterline.kernel.errors import InvalidRequest
from meterline.kernel.money import minor_units, round_money, total
from meterline.pricing.models import Plan
from meterline.subscriptions import changes
from meterline.subscriptions.changes import PlanChange

router = APIRouter(tags=["subscriptions"])


class ChangeIn(WireModel):
    """``SubscriptionChangeRequest``: the billing cycle fields must restate the
    subscription's own (a change keeps its cycle)."""

    target_plan_id: str = Field(min_length=1, max_length=64)
    proration_behavior: str = Field(max_length=40)
    billing_cadence: str | None = Field(default=None, max_length=20)
    billing_cycle: str | None = Field(default=None, max_length=20)
    billing_period: str | None = Field(default=None, max_length=20)
    billing_period_count: int | None = Field(default=None, ge=1, le=12)
    change_at: str | None = Field(default=None, max_length=20)
    metadata: dict[str, str] | None = Field(default=None, max_length=100)


class ConflictPoliciesIn(WireModel):
    """``SubscriptionChangeConflictPolicies``: what a pending plan change does to this one."""

    on_pending_schedule: str | None = Field(default=None, max_length=20)


class ChangeV2In(WireModel):
    """``SubscriptionChangeV2Request``: only the unchanged billing period is supported."""

    unsupported = frozenset({"billing_period_config", "entity_policies", "idempotency_key"})
    target_plan_id: str = Field(min_length=1, max_length=64)
    proration_behavior: str = Field(max_length=40)
    billing_period_behaviour: str | None = Field(default=None, max_length=40)
    change_at: str | None = Field(default=None, max_length=20)
    metadata: dict[str, str] | None = Field(default=None, max_length=100)
    on_conflict_policies: ConflictPoliciesIn | None = None


def _run(
    session: Session, principal: Any, subscription_id: str, body: ChangeIn | ChangeV2In, grace: Any
) -> PlanChange:
    cycle: dict[str, Any] = {}
    if isinstance(body, ChangeV2In) and body.on_conflict_policies is not None:
        cycle["on_pending_schedule"] = body.on_conflict_policies.on_pending_schedule
    if isinstance(body, ChangeIn):
        if body.billing_cadence not in (None, "RECURRING"):
            raise InvalidRequest("billing_cadence must be RECURRING", field="billing_cadence")
        cycle = {
            "billing_period": body.billing_period,
            "billing_period_count": body.billing_period_count,
            "billing_cycle": body.billing_cycle,
        }
    elif body.billing_period_behaviour not in (None, "unchanged"):
        raise InvalidRequest(
            "only billing_period_behaviour unchanged is supported",
            field="billing_period_behaviour",
        )
    return changes.change_plan(
        session,
        principal,
        subscription_id,
        target_plan_id=body.target_plan_id,
        proration_behavior=body.proration_behavior,
        change_at=body.change_at,
        metadata=body.metadata,
        grace=grace,
        **cycle,
    )


def plan_summary(plan: Plan) -> dict[str, Any]:
    return {
        "id": plan.id,
        "name": plan.name,
        "lookup_key": plan.lookup_key,
        "description": plan.description,
    }


def _describe(lines: list[LineDraft]) -> str | None:
    names = [line.display_name for line in lines if line.display_name]
    return ", ".join(names) or None


def proration_out(change: PlanChange) -> dict[str, Any]:
    return {
        "credit_amount": decimal_text(change.credit),
        "credit_description": _describe(change.lines.credits),
        "charge_amount": decimal_text(change.charge),
        "charge_description": _describe(change.lines.charges),
        "net_amount": decimal_text(change.charge - change.credit),
        "currency": change.subscription.currency,
        "proration_date": iso(change.effective_at),
        "current_period_start": iso(change.period.start),
        "current_period_end": iso(change.period.end),
        "days_used": change.days_used,
        "days_remaining": change.days_remaining,
    }


def _invoice(session: Session, change: PlanChange) -> dict[str, Any] | None:
    if change.invoice is None:
        return None
    return invoice_out(
        change.invoice, invoices.lines_of(session, [change.invoice])[change.invoice.id]
    )


def _summary(change: PlanChange, plan: Plan) -> dict[str, Any]:
    sub = change.subscription
    return {
        "id": sub.id,
        "plan_id": plan.id,
        "status": sub.subscription_status,
        "billing_anchor": iso(sub.billing_anchor),
        "current_period_start": iso(sub.current_period_start),
        "current_period_end": iso(sub.current_period_end),
        "created_at": iso(sub.created_at),
    }


def _next_invoice(change: PlanChange, invoice: dict[str, Any] | None) -> dict[str, Any]:
    """The change invoice; for a change at the period's end, the period-end invoice the
    clock writes at the boundary (the old plan's period, the new plan's ADVANCE charges)."""
    lines = list(change.period_end_lines) if change.is_scheduled else change.lines.lines
    units = minor_units(change.subscription.currency)
    amounts = [round_money(line.amount, units) for line in lines]
    subtotal = total(amounts)
    if change.is_scheduled:
        grand_total = decimal_text(max(subtotal, Decimal(0)))
    else:
        grand_total = invoice["total"] if invoice else "0"
    return {
        "currency": change.subscription.currency,
        "due_date": invoice.get("due_date") if invoice else None,
        "subtotal": decimal_text(subtotal),
        "tax_amount": "0",
        "total": grand_total,
        "line_items": [
            {
                "description": line.display_name,
                "amount": decimal_text(amount),
                "quantity": decimal_text(line.quantity),
                "is_proration": not change.is_scheduled,
                "period_start": iso(line.period_start),
                "period_end": iso(line.period_end),
            }
            for line, amount in zip(lines, amounts, strict=True)
        ],
    }


def _scheduled(change: PlanChange, preview: bool) -> dict[str, Any]:
    """``is_scheduled``, and the schedule's id and time (an execution's only: a preview
    stores nothing)."""
    if change.schedule is None:
        return {"is_scheduled": False}
    out: dict[str, Any] = {"is_scheduled": True, "scheduled_at": iso(change.schedule.scheduled_at)}
    if not preview:
        out["schedule_id"] = change.schedule.id
    return out


def v1_out(session: Session, change: PlanChange) -> dict[str, Any]:
    invoice = _invoice(session, change)
    return {
        "change_type": change.change_type,
        "effective_date": iso(change.effective_at),
        **_scheduled(change, preview=False),
        "metadata": change.subscription.metadata_ or {},
        "old_subscription": _summary(change, change.from_plan),
        "new_subscription": _summary(change, change.to_plan),
        "proration_applied": proration_out(change),
        "invoice": invoice,
    }


def v1_preview_out(session: Session, change: PlanChange) -> dict[str, Any]:
    invoice = _invoice(session, change)
    sub = change.subscription
    return {
        "subscription_id": sub.id,
        "change_type": change.change_type,
        "current_plan": plan_summary(change.from_plan),
        "target_plan": plan_summary(change.to_plan),
        "effective_date": iso(change.effective_at),
        "metadata": sub.metadata_ or {},
        "proration_details": proration_out(change),
        "next_invoice_preview": _next_invoice(change, invoice),
        "new_billing_cycle": {
            "billing_anchor": iso(sub.billing_anchor),
            "billing_cadence": "RECURRING",
            "billing_period": sub.billing_period,
            "billing_period_count": sub.billing_period_count,
            "period_start": iso(sub.current_period_start),
            "period_end": iso(sub.current_period_end),
        },
        "warnings": [],
    }


def v2_out(session: Session, change: PlanChange, *, preview: bool = False) -> dict[str, Any]:
    invoice = _invoice(session, change)
    sub = change.subscription
    items = [{**line_item_out(i), "change_action": "ended"} for i in change.ended] + [
        {**line_item_out(i), "change_action": "created"} for i in change.created
    ]
    invoices_changed: list[dict[str, Any]] = []
    if invoice is not None:
        invoices_changed.append(
            {"action": "created", "id": invoice["id"], "status": "draft", "invoice": invoice}
        )
    if change.payout is not None:
        invoices_changed.append({"action": "wallet_credit", "id": change.payout.transaction.id})
    return {
        "change_type": change.change_type,
        "effective_at": iso(change.effective_at),
        **_scheduled(change, preview),
        "superseded_schedules": list(change.superseded),
        "from_plan": plan_summary(change.from_plan),
        "to_plan": plan_summary(change.to_plan),
        "metadata": sub.metadata_ or {},
        "subscription": full_subscription(session, sub),
        "changed_resources": {
            "line_items": [
                {
                    "id": i["id"],
                    "price_id": i["price_id"],
                    "quantity": i["quantity"],
                    "start_date": i["start_date"],
                    "end_date": i.get("end_date"),
                    "subscription_id": i["subscription_id"],
                    "change_action": i["change_action"],
                }
                for i in items
            ],
            "invoices": invoices_changed,
            "subscriptions": [
                {
                    "id": sub.id,
                    "action": "updated",
                    "status": sub.subscription_status,
                    "current_period_end": iso(sub.current_period_end),
                }
            ],
        },
        # Meterline's extension: the proration the change applied (v1's shape).
        "proration": proration_out(change),
        "warnings": [],
    }


def _preview(session: Session, body: dict[str, Any]) -> Response:
    """The rendered execution, rolled back."""
    session.rollback()
    return json_response(body)


@router.post("/subscriptions/{subscription_id}/change/preview", summary="Preview a plan change")
def preview_change(
    subscription_id: str,
    body: ChangeIn,
    principal: Vendor,
    session: WriteSession,
    settings: AppSettings,
) -> Response:
    change = _run(session, principal, subscription_id, body, settings.billing.grace)
    return _preview(session, v1_preview_out(session, change))


@router.post("/subscriptions/{subscription_id}/change/execute", summary="Change the plan now")
def execute_change(
    subscription_id: str,
    body: ChangeIn,
    principal: Vendor,
    session: WriteSession,
    settings: AppSettings,
) -> Response:
    change = _run(session, principal, subscription_id, body, settings.billing.grace)
    return json_response(v1_out(session, change))


@router.post(
    "/subscriptions/{subscription_id}/change/v2/preview", summary="Preview a plan change (v2)"
)
def preview_change_v2(
    subscription_id: str,
    body: ChangeV2In,
    principal: Vendor,
    session: WriteSession,
    settings: AppSettings,
) -> Response:
    change = _run(session, principal, subscription_id, body, settings.billing.grace)
    return _preview(session, v2_out(session, change, preview=True))


@router.post(
    "/subscriptions/{subscription_id}/change/v2/execute", summary="Change the plan now (v2)"
)
def execute_change_v2(
    subscription_id: str,
    body: ChangeV2In,
    principal: Vendor,
    session: WriteSession,
    settings: AppSettings,
) -> Response:
    change = _run(session, principal, subscription_id, body, settings.billing.grace)
    return json_response(v2_out(session, change))
