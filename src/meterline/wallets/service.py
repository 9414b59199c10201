"""Wallet rules: create, top up, consume, expire, terminate, balances.

Credits are consumed from the completed credit entries that are not expired at the
reference time, ordered by ``priority`` (lower first, none last), then ``expiry_date``
(sooner first, none last), then ``credit_amount`` (larger first). Expired credits leave the
balance through a ``CREDIT_EXPIRED`` debit entry, written by the next write on the wallet
or by the billing clock; until then reads already leave them out of the balance.
Currency amount = credits × ``conversion_rate``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_DOWN, Decimal
from typing import Any

from sqlalchemy.orm import Session

from meterline.accounts.principal import Principal
from meterline.customers import service as customers
from meterline.customers.models import Customer
from meterline.db.base import utcnow
from meterline.invoicing.amounts import ZERO
from meterline.kernel.errors import (
    AlreadyExists,
    Conflict,
    InvalidOperation,
    InvalidRequest,
    NotFound,
)
from meterline.kernel.money import BOUND_TEXT, fits, in_money_context, is_currency, minor_units
from meterline.wallets import repository
from meterline.wallets.models import (
    TOP_UP_REASONS,
    WALLET_TYPES,
    Wallet,
    WalletTransaction,
)
from meterline.webhooks import notify

CREDIT_SCALE = Decimal("1e-12")  # Money columns keep 12 decimal places


def _positive(value: Decimal, field: str) -> Decimal:
    if not value.is_finite() or value <= 0:
        raise InvalidRequest(f"{field} must be greater than 0", field=field)
    return value


def check_currency(currency: str, field: str = "currency") -> str:
    if not is_currency(currency):
        raise InvalidRequest(
            f"{field} must be a 3-letter ISO 4217 currency code",
            field=field,
            details={"provided_value": currency},
        )
    return currency.lower()


def _customer(
    session: Session, principal: Principal, customer_id: str | None, external_id: str | None
) -> Customer:
    if customer_id:
        return customers.get_customer(session, principal, customer_id)
    if external_id:
        return customers.get_customer_by_external_id(session, principal, external_id)
    raise InvalidRequest("customer_id or external_customer_id is required", field="customer_id")


def get_wallet(session: Session, principal: Principal, wallet_id: str) -> Wallet:
    wallet = repository.get(session, principal.environment_id, wallet_id)
    if wallet is None:
        raise NotFound("wallet", wallet_id)
    return wallet


def _locked(session: Session, principal: Principal, wallet_id: str) -> Wallet:
    wallet = repository.get(session, principal.environment_id, wallet_id, lock=True)
    if wallet is None:
        raise NotFound("wallet", wallet_id)
    return wallet


def create_wallet(
    session: Session,
    principal: Principal,
    *,
    currency: str,
    customer_id: str | None = None,
    external_customer_id: str | None = None,
    name: str | None = None,
    description: str | None = None,
    metadata: dict[str, str] | None = None,
    wallet_type: str | None = None,
    conversion_rate: Decimal | None = None,
    topup_conversion_rate: Decimal | None = None,
    allowed_price_types: list[str] | None = None,
    initial_credits: Decimal = ZERO,
    initial_credits_expiry: datetime | None = None,
    now: datetime | None = None,
) -> Wallet:
    """A new active wallet; ``initial_credits`` are loaded as a FREE_CREDIT_GRANT top-up."""
    currency = check_currency(currency)
    wallet_type = wallet_type or "PRE_PAID"
    if wallet_type not in WALLET_TYPES:
        raise InvalidRequest(
            "wallet_type must be PRE_PAID or POST_PAID",
            field="wallet_type",
            details={"allowed_values": list(WALLET_TYPES), "provided_value": wallet_type},
        )
    rate = _positive(conversion_rate, "conversion_rate") if conversion_rate is not None else None
    topup_rate = (
        _positive(topup_conversion_rate, "topup_conversion_rate")
        if topup_conversion_rate is not None
        else None
    )
    if initial_credits < 0 or not initial_credits.is_finite():
        raise InvalidRequest(
            "initial_credits_to_load must not be negative", field="initial_credits_to_load"
        )
    customer = _customer(session, principal, customer_id, external_customer_id)
    if customer.status != "published":
        raise InvalidOperation("Wallets can only be created for active customers")
    if repository.active_of_customer(session, principal.environment_id, customer.id, currency):
        raise AlreadyExists(
            f"The customer already has an active wallet in {currency}",
            details={"customer_id": customer.id, "currency": currency},
        )
    wallet = Wallet(
        environment_id=principal.environment_id,
        customer_id=customer.id,
        currency=currency,
        name=name or f"{currency.upper()} wallet",
        description=description,
        metadata_=dict(metadata or {}),
        wallet_type=wallet_type,
        conversion_rate=rate or Decimal(1),
        topup_conversion_rate=topup_rate or rate or Decimal(1),
        allowed_price_types=list(allowed_price_types or ["ALL"]),
        credit_balance=ZERO,
        created_by=principal.user_id,
        updated_by=principal.user_id,
    )
    session.add(wallet)
    session.flush()
    if initial_credits > 0:
        _credit(
            session,
            wallet,
            initial_credits,
            reason="FREE_CREDIT_GRANT",
            description="Initial credits",
            expiry=initial_credits_expiry,
            priority=None,
            idempotency_key=None,
            metadata=None,
            now=now or utcnow(),
        )
    return wallet


def update_wallet(session: Session, principal: Principal, wallet_id: str, **changes: Any) -> Wallet:
    """Changes ``name``, ``description``, ``metadata`` or ``allowed_price_types``."""
    wallet = _locked(session, principal, wallet_id)
    for field in ("name", "description"):
        if changes.get(field) is not None:
            setattr(wallet, field, changes[field])
    if changes.get("metadata") is not None:
        wallet.metadata_ = dict(changes["metadata"])
    if changes.get("allowed_price_types"):
        wallet.allowed_price_types = list(changes["allowed_price_types"])
    wallet.updated_by = principal.user_id
    session.flush()
    return wallet


def customer_wallets(session: Session, principal: Principal, customer_id: str) -> list[Wallet]:
    customer = customers.get_customer(session, principal, customer_id)
    return repository.of_customer(session, principal.environment_id, customer.id)


def customer_wallets_by_lookup(
    session: Session, principal: Principal, *, customer_id: str | None, lookup_key: str | None
) -> list[Wallet]:
    customer = _customer(session, principal, customer_id, lookup_key)
    return repository.of_customer(session, principal.environment_id, customer.id)


def search_wallets(
    session: Session,
    principal: Principal,
    *,
    limit: int,
    offset: int,
    wallet_ids: list[str] | None = None,
    customer_id: str | None = None,
    wallet_status: str | None = None,
    sort: Sequence[Any] | str | None = None,
    order: str | None = None,
) -> tuple[list[Wallet], int]:
    return repository.search(
        session,
        principal.environment_id,
        limit=limit,
        offset=offset,
        wallet_ids=wallet_ids,
        customer_id=customer_id,
        wallet_status=wallet_status,
        sort=sort,
        order=order,
    )


# ---- the ledger --------------------------------------------------------------------------


@in_money_context
def _entry(
    session: Session,
    wallet: Wallet,
    *,
    kind: str,
    quantity: Decimal,
    reason: str,
    available: Decimal = ZERO,
    description: str | None = None,
    expiry: datetime | None = None,
    priority: int | None = None,
    idempotency_key: str | None = None,
    metadata: dict[str, str] | None = None,
    reference_type: str | None = None,
    reference_id: str | None = None,
    parent_id: str | None = None,
) -> WalletTransaction:
    before = wallet.credit_balance
    after = before + quantity if kind == "credit" else before - quantity
    amount = quantity * wallet.conversion_rate
    if not (fits(after) and fits(amount)):  # amount: credits x rate has up to 24 places
        # NUMERIC(38, 12) would overflow: refused before anything is written.
        raise Conflict(
            f"this {reason} would take the wallet's balance past {BOUND_TEXT}",
            details={"credit_balance": str(before), "credit_amount": str(quantity)},
        )
    entry = WalletTransaction(
        environment_id=wallet.environment_id,
        wallet_id=wallet.id,
        customer_id=wallet.customer_id,
        type=kind,
        credit_amount=quantity,
        amount=amount,
        credit_balance_before=before,
        credit_balance_after=after,
        credits_available=available,
        transaction_status="completed",
        transaction_reason=reason,
        reference_type=reference_type,
        reference_id=reference_id,
        description=description,
        metadata_=dict(metadata or {}),
        expiry_date=expiry,
        priority=priority,
        currency=wallet.currency,
        conversion_rate=wallet.conversion_rate,
        topup_conversion_rate=wallet.topup_conversion_rate,
        idempotency_key=idempotency_key,
        parent_transaction_id=parent_id,
        sequence=repository.next_sequence(session, wallet.id),
    )
    wallet.credit_balance = after
    session.add(entry)
    session.flush()
    return entry


def _credit(
    session: Session,
    wallet: Wallet,
    quantity: Decimal,
    *,
    reason: str,
    description: str | None,
    expiry: datetime | None,
    priority: int | None,
    idempotency_key: str | None,
    metadata: dict[str, str] | None,
    now: datetime,
    reference_type: str = "REQUEST",
    reference_id: str | None = None,
) -> WalletTransaction:
    expire_credits(session, wallet, now)
    return _entry(
        session,
        wallet,
        kind="credit",
        quantity=quantity,
        available=quantity,
        reason=reason,
        description=description,
        expiry=expiry,
        priority=priority,
        idempotency_key=idempotency_key,
        metadata=metadata,
        reference_type=reference_type,
        reference_id=reference_id,
    )


def consumption_order(quantity: list[WalletTransaction]) -> list[WalletTransaction]:
    """Priority (lower first, none last), expiry (sooner first, none last), larger first."""
    far = datetime.max.replace(tzinfo=None)

    def key(entry: WalletTransaction) -> tuple[int, int, datetime, Decimal, int]:
        expiry = entry.expiry_date.replace(tzinfo=None) if entry.expiry_date else far
        priority = entry.priority if entry.priority is not None else 0
        return (
            0 if entry.priority is not None else 1,
            priority,
            expiry,
            -entry.credit_amount,
            entry.sequence,
        )

    return sorted(quantity, key=key)


@in_money_context
def _consume(session: Session, wallet: Wallet, quantity: Decimal, at: datetime) -> None:
    remaining = quantity
    usable = [
        c
        for c in repository.open_credits(session, wallet.id)
        if c.expiry_date is None or c.expiry_date > at
    ]
    for entry in consumption_order(usable):
        if remaining <= 0:
            break
        taken = min(entry.credits_available, remaining)
        entry.credits_available = entry.credits_available - taken
        remaining -= taken
    if remaining > 0:
        raise InvalidOperation("Insufficient wallet balance")


def expire_credits(session: Session, wallet: Wallet, now: datetime) -> list[WalletTransaction]:
    """Write a CREDIT_EXPIRED debit for every expired grant that still has quantity."""
    written = []
    for entry in sorted(
        repository.expired_open_credits(session, wallet.id, now), key=lambda e: e.sequence
    ):
        left = entry.credits_available
        entry.credits_available = ZERO
        written.append(
            _entry(
                session,
                wallet,
                kind="debit",
                quantity=left,
                reason="CREDIT_EXPIRED",
                description="Credits expired",
                reference_type="EXTERNAL",
                reference_id=entry.id,
                parent_id=entry.id,
            )
        )
    return written


@in_money_context
def top_up(
    session: Session,
    principal: Principal,
    wallet_id: str,
    *,
    transaction_reason: str,
    credits_to_add: Decimal | None = None,
    amount: Decimal | None = None,
    expiry: datetime | None = None,
    priority: int | None = None,
    idempotency_key: str | None = None,
    description: str | None = None,
    metadata: dict[str, str] | None = None,
    now: datetime | None = None,
) -> tuple[Wallet, WalletTransaction]:
    """Adds quantity. A reused ``idempotency_key`` returns the first top-up if it asked for
    the same quantity, and is a conflict otherwise; either way nothing is added twice."""
    now = now or utcnow()
    if transaction_reason not in TOP_UP_REASONS:
        raise InvalidRequest(
            "transaction_reason is not a top-up reason",
            field="transaction_reason",
            details={"allowed_values": list(TOP_UP_REASONS), "provided_value": transaction_reason},
        )
    if priority is not None and priority < 0:
        raise InvalidRequest("priority must be 0 or more", field="priority")
    if expiry is not None and expiry <= now:
        raise InvalidRequest("expiry_date_utc must be in the future", field="expiry_date_utc")
    wallet = _locked(session, principal, wallet_id)
    if credits_to_add is not None:
        quantity = _positive(credits_to_add, "credits_to_add")
    elif amount is not None:
        quantity = _positive(amount, "amount") / wallet.topup_conversion_rate
        quantity = quantity.quantize(CREDIT_SCALE, rounding=ROUND_DOWN)
        _positive(quantity, "amount")
    else:
        raise InvalidRequest("credits_to_add must be greater than 0", field="credits_to_add")
    if idempotency_key:
        earlier = repository.by_idempotency_key(session, wallet.id, idempotency_key)
        if earlier is not None:
            if (
                earlier.credit_amount != quantity
                or earlier.transaction_reason != transaction_reason
            ):
                raise Conflict(
                    "idempotency_key was already used for a different top-up",
                    details={"idempotency_key": idempotency_key},
                )
            return wallet, earlier
    if wallet.wallet_status != "active":
        raise InvalidOperation(f"The wallet is {wallet.wallet_status}; it cannot be topped up")
    entry = _credit(
        session,
        wallet,
        quantity,
        reason=transaction_reason,
        description=description,
        expiry=expiry,
        priority=priority,
        idempotency_key=idempotency_key or None,
        metadata=metadata,
        now=now,
    )
    wallet.updated_by = principal.user_id
    return wallet, entry


def debit(
    session: Session,
    wallet: Wallet,
    quantity: Decimal,
    *,
    reason: str,
    reference_type: str,
    reference_id: str | None,
    description: str | None = None,
    at: datetime | None = None,
) -> WalletTransaction:
    """Consumes ``quantity`` in consumption order; InvalidOperation if there are too few."""
    now = at or utcnow()
    _positive(quantity, "credits")
    expire_credits(session, wallet, now)
    _consume(session, wallet, quantity, now)
    entry = _entry(
        session,
        wallet,
        kind="debit",
        quantity=quantity,
        reason=reason,
        description=description,
        reference_type=reference_type,
        reference_id=reference_id,
    )
    notify.wallet_debited(session, wallet, entry.credit_balance_before)
    return entry


def terminate(session: Session, principal: Principal, wallet_id: str) -> Wallet:
    """Closes the wallet, debiting whatever is left (WALLET_TERMINATION)."""
    now = utcnow()
    wallet = _locked(session, principal, wallet_id)
    if wallet.wallet_status == "closed":
        raise InvalidOperation("The wallet is already terminated")
    expire_credits(session, wallet, now)
    if wallet.credit_balance > 0:
        debit(
            session,
            wallet,
            wallet.credit_balance,
            reason="WALLET_TERMINATION",
            reference_type="REQUEST",
            reference_id=wallet.id,
            description="Wallet terminated",
            at=now,
        )
    wallet.wallet_status = "closed"
    wallet.updated_by = principal.user_id
    session.flush()
    return wallet


def transactions(
    session: Session,
    principal: Principal,
    wallet_id: str,
    *,
    limit: int,
    offset: int,
    **filters: Any,
) -> tuple[list[WalletTransaction], int]:
    """The wallet's ledger entries matching every filter (``repository.TransactionQuery``)."""
    wallet = get_wallet(session, principal, wallet_id)
    q = repository.TransactionQuery(**filters)
    return repository.transactions(session, wallet.id, q, limit=limit, offset=offset)


# ---- balances ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Balance:
    credit_balance: Decimal
    balance: Decimal
    unpaid_invoices_amount: Decimal
    current_period_usage: Decimal
    real_time_balance: Decimal
    real_time_credit_balance: Decimal


@in_money_context
def credit_balance(session: Session, wallet: Wallet, now: datetime | None = None) -> Decimal:
    """Credits usable at ``now``: the ledger balance less grants that have expired but whose
    expiry entry is not written yet."""
    now = now or utcnow()
    pending = sum(
        (e.credits_available for e in repository.expired_open_credits(session, wallet.id, now)),
        ZERO,
    )
    return wallet.credit_balance - pending


@in_money_context
def balance(
    session: Session,
    wallet: Wallet,
    *,
    unpaid_invoices: Decimal = ZERO,
    current_period_usage: Decimal = ZERO,
) -> Balance:
    quantity = credit_balance(session, wallet)
    money = quantity * wallet.conversion_rate
    real_time = money - unpaid_invoices - current_period_usage
    return Balance(
        credit_balance=quantity,
        balance=money,
        unpaid_invoices_amount=unpaid_invoices,
        current_period_usage=current_period_usage,
        real_time_balance=real_time,
        real_time_credit_balance=real_time / wallet.conversion_rate,
    )


@in_money_context
def pay_from_wallets(
    session: Session,
    environment_id: str,
    customer_id: str,
    currency: str,
    amount: Decimal,
    *,
    invoice_id: str,
    at: datetime,
) -> Decimal:
    """Pays up to ``amount`` (currency) of an invoice from the customer's active pre-paid
    wallets in ``currency``; returns what was paid, in whole minor units."""
    paid = ZERO
    unit = Decimal(1).scaleb(-minor_units(currency))
    for wallet in repository.active_of_customer(
        session, environment_id, customer_id, currency, lock=True
    ):
        if wallet.wallet_type != "PRE_PAID" or paid >= amount:
            continue
        expire_credits(session, wallet, at)
        available = wallet.credit_balance * wallet.conversion_rate
        take = min(amount - paid, available).quantize(unit, rounding=ROUND_DOWN)
        if take <= 0:
            continue
        quantity = take / wallet.conversion_rate
        quantity = min(quantity.quantize(CREDIT_SCALE), wallet.credit_balance)
        debit(
            session,
            wallet,
            quantity,
            reason="INVOICE_PAYMENT",
            reference_type="INVOICE",
            reference_id=invoice_id,
            description="Invoice payment",
            at=at,
        )
        paid += take
    return paid


@in_money_context
def refund_to_wallet(
    session: Session,
    environment_id: str,
    customer_id: str,
    currency: str,
    amount: Decimal,
    *,
    invoice_id: str,
    at: datetime,
) -> WalletTransaction | None:
    """Credits ``amount`` (currency) back to the customer's first active wallet in
    ``currency`` (INVOICE_VOID_REFUND); None when the customer has no such wallet."""
    wallets = repository.active_of_customer(
        session, environment_id, customer_id, currency, lock=True
    )
    if not wallets or amount <= 0:
        return None
    wallet = wallets[0]
    quantity = (amount / wallet.conversion_rate).quantize(CREDIT_SCALE)
    return _credit(
        session,
        wallet,
        quantity,
        reason="INVOICE_VOID_REFUND",
        description="Refund of a voided invoice",
        expiry=None,
        priority=None,
        idempotency_key=None,
        metadata=None,
        now=at,
        reference_type="INVOICE",
        reference_id=invoice_id,
    )
