"""Tax associations, and the tax they add to invoices.

* A rate is associated with a ``customer`` (by id or ``external_customer_id``), a
  ``subscription`` or the ``tenant`` (the whole environment), optionally for one currency
  and from ``start_date`` (default now) to ``end_date``, ``exclusive`` (added to the
  price, the default) or ``inclusive`` (carved out of it: ``compute.line_taxes``).
* An invoice is taxed by the ``auto_apply`` associations of the most specific level that
  has any for it (subscription, then customer, then tenant: Flexprice's resolution order),
  each rate once, lower ``priority`` first; an inactive or deleted rate taxes nothing.
* Tax is taken after discounts (``compute.line_taxes``), rounded per line and rate.
* A customer whose ``tax_treatment`` is ``exempt`` or ``reverse_charge`` is charged no tax
  (``taxable`` or none is); the invoice says why in ``tax_exemption_reason_code``
  (``customer_exempt``, ``reverse_charge``). Prices that include tax are then charged as
  they are, nothing carved out (as Stripe charges an exempt customer an inclusive price).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from meterline.accounts.principal import Principal
from meterline.customers import service as customers
from meterline.customers.models import Customer
from meterline.db.base import new_id, utcnow
from meterline.db.rows import existing, in_environment
from meterline.invoicing.models import Invoice, InvoiceLineItem
from meterline.kernel.errors import InvalidOperation, InvalidRequest
from meterline.pricing.fields import currency_of
from meterline.subscriptions.models import Subscription
from meterline.taxes import compute, repository
from meterline.taxes.models import ENTITY_TYPES, TAX_BEHAVIORS, TaxApplied, TaxAssociation, TaxRate

ZERO = Decimal(0)
LEVELS = ("subscription", "customer", "tenant")
# A customer's tax_treatment -> the invoice's tax_exemption_reason_code (no tax charged).
EXEMPTIONS = {"exempt": "customer_exempt", "reverse_charge": "reverse_charge"}


@dataclass(frozen=True)
class TaxOutcome:
    """What ``tax_invoice`` charged: all tax, the part carved out of inclusive prices, and
    why none was charged (None when the customer is taxable)."""

    total: Decimal = ZERO
    inclusive: Decimal = ZERO
    exemption: str | None = None


@dataclass(frozen=True)
class NewTaxAssociation:
    tax_rate_code: str
    entity_type: str | None = None
    entity_id: str | None = None
    external_customer_id: str | None = None
    currency: str | None = None
    priority: int | None = None
    auto_apply: bool | None = None
    tax_behavior: str | None = None
    start_date: datetime | None = None
    end_date: datetime | None = None
    metadata: dict[str, str] | None = None


@dataclass(frozen=True)
class TaxAssociationChanges:
    auto_apply: bool | None = None
    priority: int | None = None
    tax_behavior: str | None = None
    metadata: dict[str, str] | None = None


def _behavior(value: str | None) -> str:
    behavior = value or "exclusive"
    if behavior not in TAX_BEHAVIORS:
        raise InvalidRequest(
            f"tax_behavior must be one of {', '.join(TAX_BEHAVIORS)}",
            field="tax_behavior",
            details={"allowed_values": list(TAX_BEHAVIORS), "provided_value": value},
        )
    return behavior


def _entity(session: Session, principal: Principal, data: NewTaxAssociation) -> tuple[str, str]:
    kind = data.entity_type or ("customer" if data.external_customer_id else "tenant")
    if kind not in ENTITY_TYPES:
        raise InvalidRequest(
            f"entity_type must be one of {', '.join(ENTITY_TYPES)}",
            field="entity_type",
            details={"allowed_values": list(ENTITY_TYPES), "provided_value": kind},
        )
    if kind == "customer":
        customer = customers.resolve_customer(
            session, principal, data.entity_id, data.external_customer_id
        )
        return kind, customer.id
    if data.external_customer_id:
        raise InvalidRequest(
            "external_customer_id is for customer associations", field="external_customer_id"
        )
    if kind == "subscription":
        sub = in_environment(
            session,
            Subscription,
            principal.environment_id,
            Subscription.id == (data.entity_id or ""),
        )
        return kind, existing(sub, "subscription", data.entity_id or "").id
    if data.entity_id not in (None, "", principal.environment_id):
        raise InvalidRequest("a tenant association is the environment's own", field="entity_id")
    return kind, principal.environment_id


def create_association(
    session: Session, principal: Principal, data: NewTaxAssociation
) -> TaxAssociation:
    rate = repository.tax_rate_by_code(session, principal.environment_id, data.tax_rate_code)
    if rate is None:
        raise InvalidRequest("no tax rate has this code", field="tax_rate_code")
    kind, entity_id = _entity(session, principal, data)
    start = data.start_date or utcnow()
    if data.end_date is not None and data.end_date <= start:
        raise InvalidRequest("end_date must be after start_date", field="end_date")
    association = TaxAssociation(
        id=new_id("taxassoc"),
        environment_id=principal.environment_id,
        tax_rate_id=rate.id,
        entity_type=kind,
        entity_id=entity_id,
        currency=currency_of(data.currency).lower() if data.currency else None,
        priority=100 if data.priority is None else data.priority,
        auto_apply=True if data.auto_apply is None else data.auto_apply,
        tax_behavior=_behavior(data.tax_behavior),
        start_date=start,
        end_date=data.end_date,
        metadata_=dict(data.metadata or {}),
        created_by=principal.user_id,
        updated_by=principal.user_id,
    )
    session.add(association)
    session.flush()
    return association


def get_association(session: Session, principal: Principal, association_id: str) -> TaxAssociation:
    found = repository.association(session, principal.environment_id, association_id)
    return existing(found, "tax association", association_id)


def list_associations(
    session: Session,
    principal: Principal,
    *,
    entity_type: str | None,
    entity_id: str | None,
    external_customer_id: str | None,
    tax_rate_id: str | None,
    limit: int,
    offset: int,
) -> tuple[list[TaxAssociation], int]:
    if external_customer_id:
        customer = customers.resolve_customer(session, principal, None, external_customer_id)
        if entity_id not in (None, customer.id) or entity_type not in (None, "customer"):
            return [], 0
        entity_type, entity_id = "customer", customer.id
    return repository.associations(
        session,
        principal.environment_id,
        entity_type=entity_type,
        entity_id=entity_id,
        tax_rate_id=tax_rate_id,
        limit=limit,
        offset=offset,
    )


def update_association(
    session: Session, principal: Principal, association_id: str, changes: TaxAssociationChanges
) -> TaxAssociation:
    association = get_association(session, principal, association_id)
    if association.status != "published":
        raise InvalidOperation("a deleted tax association cannot be updated")
    if changes.tax_behavior is not None:
        association.tax_behavior = _behavior(changes.tax_behavior)
    if changes.auto_apply is not None:
        association.auto_apply = changes.auto_apply
    if changes.priority is not None:
        association.priority = changes.priority
    if changes.metadata is not None:
        association.metadata_ = dict(changes.metadata)
    association.updated_by = principal.user_id
    association.updated_at = utcnow()
    session.flush()
    return association


def delete_association(session: Session, principal: Principal, association_id: str) -> None:
    association = get_association(session, principal, association_id)
    if association.status != "published":
        raise InvalidOperation("the tax association is already deleted")
    association.status = "archived"
    association.updated_at = utcnow()
    session.flush()


def rates_of(session: Session, associations: Sequence[TaxAssociation]) -> dict[str, TaxRate]:
    return repository.rates_by_id(session, sorted({a.tax_rate_id for a in associations}))


def _applicable(
    pairs: Sequence[tuple[TaxAssociation, TaxRate]], invoice: Invoice
) -> list[tuple[TaxAssociation, TaxRate]]:
    start = invoice.period_start or invoice.created_at or utcnow()
    end = invoice.period_end or start
    usable = [
        (a, r)
        for a, r in pairs
        if a.auto_apply
        and r.tax_rate_status == "ACTIVE"
        and r.status == "published"
        and a.currency in (None, invoice.currency)
        and a.start_date <= end
        and (a.end_date is None or a.end_date > start)
    ]
    for level in LEVELS:
        chosen = [(a, r) for a, r in usable if a.entity_type == level]
        if chosen:
            chosen.sort(key=lambda pair: (pair[0].priority, pair[0].created_at, pair[0].id))
            once: dict[str, tuple[TaxAssociation, TaxRate]] = {}
            for a, r in chosen:
                once.setdefault(r.id, (a, r))
            return list(once.values())
    return []


def tax_invoice(
    session: Session, invoice: Invoice, lines: Sequence[InvoiceLineItem], *, replacing: bool
) -> TaxOutcome:
    """The tax of ``invoice``'s ``lines`` (discounts already set on them); records one
    ``taxes_applied`` row per rate. ``replacing``: a recomputed draft's rows go first.
    Reads run without autoflush (see ``discounts.service.discount_invoice``)."""
    with session.no_autoflush:
        if replacing:
            repository.delete_applied(session, invoice.id)
        customer = session.get(Customer, invoice.customer_id)
    exemption = EXEMPTIONS.get(customer.tax_treatment or "") if customer is not None else None
    if exemption is not None:
        return TaxOutcome(exemption=exemption)
    with session.no_autoflush:
        entities = [invoice.customer_id, invoice.environment_id]
        if invoice.subscription_id:
            entities.append(invoice.subscription_id)
        pairs = repository.for_entities(session, invoice.environment_id, entities)
    chosen = _applicable(pairs, invoice)
    if not chosen:
        return TaxOutcome()
    taxable = [
        line.amount - line.line_item_discount - line.invoice_level_discount for line in lines
    ]
    taxed = compute.line_taxes(
        taxable,
        [compute.Rate(a.id, r.percentage_value, a.tax_behavior == "inclusive") for a, r in chosen],
        invoice.currency,
    )
    now = utcnow()
    for (association, rate), result in zip(chosen, taxed.rates, strict=True):
        session.add(
            TaxApplied(
                id=new_id("taxapp"),
                environment_id=invoice.environment_id,
                tax_rate_id=rate.id,
                tax_association_id=association.id,
                entity_type="invoice",
                entity_id=invoice.id,
                taxable_amount=result.taxable,
                tax_amount=result.tax,
                tax_behavior=association.tax_behavior,
                currency=invoice.currency,
                applied_at=now,
                metadata_={},
            )
        )
    return TaxOutcome(total=taxed.total, inclusive=taxed.inclusive)


def applied_to(session: Session, invoice_id: str) -> list[TaxApplied]:
    return repository.applied_to(session, invoice_id)
