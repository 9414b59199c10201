"""The wallet ledger: credits, debits, expiry, and the order credits are consumed in.

Credits are consumed from the completed credit entries that are not expired at the
reference time, ordered by ``priority`` (lower first, none last), then ``expiry_date``
(sooner first, none last), then age (older first: the ledger's ``sequence``). Expired credits leave the
balance through a ``CREDIT_EXPIRED`` debit entry, written by the next write on the wallet
or by the billing clock; until then reads already leave them out of the balance.
Currency amount = credits × ``conversion_rate``. Every entry is written through
:func:`write_entry`, which keeps ``credit_balance_before``/``after`` and the wallet's balance in
step.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from meterline.db.base import utcnow
from meterline.invoicing.amounts import ZERO
from meterline.kernel.errors import Conflict, InvalidOperation, InvalidRequest
from meterline.kernel.money import BOUND_TEXT, fits, in_money_context
from meterline.runtime import changes
from meterline.wallets import auto_topup, repository
from meterline.wallets.models import Wallet, WalletTransaction
from meterline.webhooks import notify

CREDIT_SCALE = Decimal("1e-12")  # Money columns keep 12 decimal places


def positive(value: Decimal, field: str) -> Decimal:
    if not value.is_finite() or value <= 0:
        raise InvalidRequest(f"{field} must be greater than 0", field=field)
    return value


@in_money_context
def write_entry(
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
    if kind == "credit":
        rearmed = auto_topup.after_credit(auto_topup.loaded(wallet.auto_topup), after)
        if rearmed is not None:
            wallet.auto_topup = rearmed.stored()
    session.add(entry)
    session.flush()
    changes.customer_changed(session, wallet.environment_id, wallet.customer_id)
    notify.wallet_transaction_created(session, entry)
    return entry


def credit(
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
    return write_entry(
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
    """Priority (lower first, none last), expiry (sooner first, none last), older first."""
    far = datetime.max.replace(tzinfo=None)

    def key(entry: WalletTransaction) -> tuple[int, int, datetime, int]:
        expiry = entry.expiry_date.replace(tzinfo=None) if entry.expiry_date else far
        priority = entry.priority if entry.priority is not None else 0
        return (0 if entry.priority is not None else 1, priority, expiry, entry.sequence)

    return sorted(quantity, key=key)


@in_money_context
def consume(session: Session, wallet: Wallet, quantity: Decimal, at: datetime) -> None:
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
            write_entry(
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
    positive(quantity, "credits")
    expire_credits(session, wallet, now)
    consume(session, wallet, quantity, now)
    entry = write_entry(
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
    if reason != "WALLET_TERMINATION":
        _auto_top_up(session, wallet, entry, now)
    return entry


def _auto_top_up(session: Session, wallet: Wallet, entry: WalletTransaction, now: datetime) -> None:
    """The wallet's auto top-up, if this debit fires it (``auto_topup.py``)."""
    settings = auto_topup.loaded(wallet.auto_topup)
    if settings is None or not auto_topup.fires(settings, wallet.credit_balance, now):
        return
    wallet.auto_topup = auto_topup.fired(settings, now).stored()
    credit(
        session,
        wallet,
        settings.amount,
        reason=settings.reason,
        description="Auto top-up",
        expiry=None,
        priority=None,
        idempotency_key=f"auto_topup:{entry.id}",
        metadata={"auto_topup": "true", "debit_transaction_id": entry.id},
        now=now,
        reference_id=entry.id,
    )


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
