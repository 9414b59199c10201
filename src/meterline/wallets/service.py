"""Wallet rules: create, update, list, top up, terminate, transactions, balances.

The ledger (credits, debits, expiry, consumption order) is ``ledger.py``; paying invoices
from wallets is ``payments.py``.
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
from meterline.db.rows import existing
from meterline.invoicing.amounts import ZERO
from meterline.kernel.errors import (
    AlreadyExists,
    Conflict,
    InvalidOperation,
    InvalidRequest,
)
from meterline.kernel.money import in_money_context
from meterline.pricing.fields import currency_of
from meterline.wallets import auto_topup, ledger, repository
from meterline.wallets.models import (
    TOP_UP_REASONS,
    WALLET_TYPES,
    Wallet,
    WalletTransaction,
)
from meterline.webhooks import notify


def check_currency(currency: str, field: str = "currency") -> str:
    """``currency`` in lower case, by the one currency rule (``pricing.fields.currency_of``)."""
    return currency_of(currency, field).lower()


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
    return existing(wallet, "wallet", wallet_id)


def _locked(session: Session, principal: Principal, wallet_id: str) -> Wallet:
    wallet = repository.get(session, principal.environment_id, wallet_id, lock=True)
    return existing(wallet, "wallet", wallet_id)


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
    auto_topup_settings: auto_topup.AutoTopup | None = None,
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
    rate = (
        ledger.positive(conversion_rate, "conversion_rate") if conversion_rate is not None else None
    )
    topup_rate = (
        ledger.positive(topup_conversion_rate, "topup_conversion_rate")
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
        auto_topup=auto_topup.checked(auto_topup_settings).stored()
        if auto_topup_settings
        else None,
        created_by=principal.user_id,
        updated_by=principal.user_id,
    )
    session.add(wallet)
    session.flush()
    if initial_credits > 0:
        ledger.credit(
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
    notify.wallet_changed(session, wallet, "created")
    return wallet


def update_wallet(session: Session, principal: Principal, wallet_id: str, **changes: Any) -> Wallet:
    """Changes ``name``, ``description``, ``metadata``, ``allowed_price_types`` or
    ``auto_topup`` (replaced whole, and armed again)."""
    wallet = _locked(session, principal, wallet_id)
    if changes.get("auto_topup") is not None:
        wallet.auto_topup = auto_topup.checked(changes["auto_topup"]).stored()
    for field in ("name", "description"):
        if changes.get(field) is not None:
            setattr(wallet, field, changes[field])
    if changes.get("metadata") is not None:
        wallet.metadata_ = dict(changes["metadata"])
    if changes.get("allowed_price_types"):
        wallet.allowed_price_types = list(changes["allowed_price_types"])
    wallet.updated_by = principal.user_id
    session.flush()
    notify.wallet_changed(session, wallet, "updated")
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
    within: Sequence[str] | None = None,
    excluding: Sequence[str] | None = None,
    customer_ids: Sequence[str] | None = None,
    currency: str | None = None,
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
        within=within,
        excluding=excluding,
        customer_ids=customer_ids,
        currency=currency,
    )


def wallet_currencies(session: Session, principal: Principal, limit: int) -> list[str]:
    """The currencies of the environment's wallets (a list page's currency choices)."""
    return repository.currencies(session, principal.environment_id, limit)


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
        quantity = ledger.positive(credits_to_add, "credits_to_add")
    elif amount is not None:
        quantity = ledger.positive(amount, "amount") / wallet.topup_conversion_rate
        quantity = quantity.quantize(ledger.CREDIT_SCALE, rounding=ROUND_DOWN)
        ledger.positive(quantity, "amount")
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
    entry = ledger.credit(
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


def terminate(session: Session, principal: Principal, wallet_id: str) -> Wallet:
    """Closes the wallet, debiting whatever is left (WALLET_TERMINATION)."""
    now = utcnow()
    wallet = _locked(session, principal, wallet_id)
    if wallet.wallet_status == "closed":
        raise InvalidOperation("The wallet is already terminated")
    ledger.expire_credits(session, wallet, now)
    if wallet.credit_balance > 0:
        ledger.debit(
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
    notify.wallet_changed(session, wallet, "terminated")
    return wallet


def transactions(
    session: Session,
    principal: Principal,
    wallet_id: str | None,
    *,
    limit: int,
    offset: int,
    sort: Sequence[Any] | str | None = None,
    **filters: Any,
) -> tuple[list[WalletTransaction], int]:
    """The ledger entries of one wallet (or, ``wallet_id`` None, of every wallet of the
    environment) matching every filter (``repository.TransactionQuery``)."""
    if wallet_id is not None:
        wallet_id = get_wallet(session, principal, wallet_id).id
    q = repository.TransactionQuery(**filters)
    return repository.transactions(
        session, principal.environment_id, wallet_id, q, limit=limit, offset=offset, sort=sort
    )


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
def balance(
    session: Session,
    wallet: Wallet,
    *,
    unpaid_invoices: Decimal = ZERO,
    current_period_usage: Decimal = ZERO,
) -> Balance:
    quantity = ledger.credit_balance(session, wallet)
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


def wallet_for_credits(
    session: Session, environment_id: str, customer_id: str, currency: str
) -> Wallet:
    """The customer's active PRE_PAID wallet in ``currency``, locked; a new one when there is
    none (a credit grant opens the wallet it pays into, as upstream does)."""
    for wallet in repository.active_of_customer(
        session, environment_id, customer_id, currency, lock=True
    ):
        if wallet.wallet_type == "PRE_PAID":
            return wallet
    wallet = Wallet(
        environment_id=environment_id,
        customer_id=customer_id,
        currency=currency,
        name=f"{currency.upper()} wallet",
        metadata_={},
        wallet_type="PRE_PAID",
        conversion_rate=Decimal(1),
        topup_conversion_rate=Decimal(1),
        allowed_price_types=["ALL"],
        credit_balance=ZERO,
    )
    session.add(wallet)
    session.flush()
    return wallet
