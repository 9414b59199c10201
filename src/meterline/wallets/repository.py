"""Every query of the wallets domain."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Numeric, cast, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from meterline.db.search import apply_sort, created_between, page
from meterline.wallets.models import Wallet, WalletTransaction


def get(
    session: Session, environment_id: str, wallet_id: str, *, lock: bool = False
) -> Wallet | None:
    query = select(Wallet).where(Wallet.id == wallet_id, Wallet.environment_id == environment_id)
    if lock:
        query = query.with_for_update()
    return session.scalars(query).first()


def of_customer(
    session: Session, environment_id: str, customer_id: str, *, currency: str | None = None
) -> list[Wallet]:
    query = select(Wallet).where(
        Wallet.environment_id == environment_id, Wallet.customer_id == customer_id
    )
    if currency is not None:
        query = query.where(Wallet.currency == currency)
    return list(session.scalars(query.order_by(Wallet.created_at, Wallet.id)).all())


def active_of_customer(
    session: Session, environment_id: str, customer_id: str, currency: str, *, lock: bool = False
) -> list[Wallet]:
    query = (
        select(Wallet)
        .where(
            Wallet.environment_id == environment_id,
            Wallet.customer_id == customer_id,
            Wallet.currency == currency,
            Wallet.wallet_status == "active",
        )
        .order_by(Wallet.created_at, Wallet.id)
    )
    if lock:
        query = query.with_for_update()
    return list(session.scalars(query).all())


def customers_with_active_wallets(
    session: Session, environment_id: str, customer_ids: Sequence[str]
) -> set[tuple[str, str]]:
    """``(customer id, currency)`` of the customers' active wallets (the billing clock asks
    once per batch instead of once per invoice)."""
    if not customer_ids:
        return set()
    rows = session.execute(
        select(Wallet.customer_id, Wallet.currency).where(
            Wallet.environment_id == environment_id,
            Wallet.customer_id.in_(list(customer_ids)),
            Wallet.wallet_status == "active",
        )
    ).all()
    return {(customer_id, currency) for customer_id, currency in rows}


WALLET_COLUMNS: dict[str, InstrumentedAttribute[Any]] = {
    "id": Wallet.id,
    "customer_id": Wallet.customer_id,
    "currency": Wallet.currency,
    "name": Wallet.name,
    "wallet_status": Wallet.wallet_status,
    "created_at": Wallet.created_at,
    "updated_at": Wallet.updated_at,
}


def search(
    session: Session,
    environment_id: str,
    *,
    limit: int,
    offset: int,
    wallet_ids: Sequence[str] | None = None,
    customer_id: str | None = None,
    wallet_status: str | None = None,
    sort: Sequence[Any] | str | None = None,
    order: str | None = None,
    within: Sequence[str] | None = None,
    excluding: Sequence[str] | None = None,
    customer_ids: Sequence[str] | None = None,
    currency: str | None = None,
) -> tuple[list[Wallet], int]:
    """``within``: only these ids (empty: none); ``excluding``: none of these;
    ``customer_ids``: only these customers' wallets (empty: none)."""
    stmt = select(Wallet).where(Wallet.environment_id == environment_id)
    if wallet_ids:
        stmt = stmt.where(Wallet.id.in_(list(wallet_ids)))
    if within is not None:
        stmt = stmt.where(Wallet.id.in_(list(within)))
    if excluding:
        stmt = stmt.where(Wallet.id.not_in(list(excluding)))
    if customer_id:
        stmt = stmt.where(Wallet.customer_id == customer_id)
    if customer_ids is not None:
        stmt = stmt.where(Wallet.customer_id.in_(list(customer_ids)))
    if wallet_status:
        stmt = stmt.where(Wallet.wallet_status == wallet_status)
    if currency:
        stmt = stmt.where(Wallet.currency == currency)
    ascending = (order or "desc").lower() == "asc"
    stmt = apply_sort(stmt, sort, order, _sortable(session))
    stmt = stmt.order_by(Wallet.id.asc() if ascending else Wallet.id.desc())
    return page(session, stmt, limit, offset)


def _sortable(session: Session) -> dict[str, Any]:
    """The sortable columns; ``credit_balance`` is the ledger's sum as last written (a grant
    expired since but not yet entered is still in it)."""
    balance: Any = Wallet.credit_balance
    if session.get_bind().dialect.name == "sqlite":
        # SQLite keeps amounts as canonical text (db/base.py Money): sort by the number.
        balance = cast(balance, Numeric)
    return {**WALLET_COLUMNS, "credit_balance": balance}


def currencies(session: Session, environment_id: str, limit: int) -> list[str]:
    """The currencies the environment's wallets hold, in order (at most ``limit``)."""
    stmt = (
        select(Wallet.currency)
        .where(Wallet.environment_id == environment_id)
        .distinct()
        .order_by(Wallet.currency)
        .limit(limit)
    )
    return list(session.scalars(stmt).all())


def by_idempotency_key(session: Session, wallet_id: str, key: str) -> WalletTransaction | None:
    return session.scalars(
        select(WalletTransaction).where(
            WalletTransaction.wallet_id == wallet_id, WalletTransaction.idempotency_key == key
        )
    ).first()


def next_sequence(session: Session, wallet_id: str) -> int:
    last = session.scalar(
        select(func.max(WalletTransaction.sequence)).where(WalletTransaction.wallet_id == wallet_id)
    )
    return int(last or 0) + 1


def open_credits(session: Session, wallet_id: str) -> list[WalletTransaction]:
    """Completed credit entries with credits left, in no particular order."""
    rows = session.scalars(
        select(WalletTransaction).where(
            WalletTransaction.wallet_id == wallet_id,
            WalletTransaction.type == "credit",
            WalletTransaction.transaction_status == "completed",
        )
    ).all()
    return [row for row in rows if row.credits_available > 0]


def expired_open_credits(
    session: Session, wallet_id: str, now: datetime
) -> list[WalletTransaction]:
    rows = session.scalars(
        select(WalletTransaction).where(
            WalletTransaction.wallet_id == wallet_id,
            WalletTransaction.type == "credit",
            WalletTransaction.transaction_status == "completed",
            WalletTransaction.expiry_date.is_not(None),
            WalletTransaction.expiry_date <= now,
        )
    ).all()
    return [row for row in rows if row.credits_available > 0]


@dataclass(frozen=True)
class TransactionQuery:
    """What a wallet's ledger listing selects; every field set narrows the result."""

    same_wallet_id: str | None = None
    transaction_type: str | None = None
    transaction_reason: str | None = None
    transaction_status: str | None = None
    reference_type: str | None = None
    reference_id: str | None = None
    created_by: str | None = None
    priority: int | None = None
    credits_available_gt: Decimal | None = None
    expiry_date_after: datetime | None = None
    expiry_date_before: datetime | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    status: str | None = None
    ascending: bool = False


TRANSACTION_COLUMNS: dict[str, InstrumentedAttribute[Any]] = {
    "id": WalletTransaction.id,
    "wallet_id": WalletTransaction.wallet_id,
    "created_at": WalletTransaction.created_at,
    "updated_at": WalletTransaction.updated_at,
    "credit_amount": WalletTransaction.credit_amount,
    "priority": WalletTransaction.priority,
    "expiry_date": WalletTransaction.expiry_date,
}


def transactions(
    session: Session,
    environment_id: str,
    wallet_id: str | None,
    q: TransactionQuery,
    *,
    limit: int,
    offset: int,
    sort: Sequence[Any] | str | None = None,
) -> tuple[list[WalletTransaction], int]:
    """Ledger entries of one wallet (``wallet_id``) or of every wallet of the environment,
    matching every field of ``q``; by ``sort``, else newest first (``q.ascending``: oldest)."""
    t = WalletTransaction
    stmt = select(t).where(
        t.environment_id == environment_id, t.status == (q.status or "published")
    )
    if wallet_id is not None:
        stmt = stmt.where(t.wallet_id == wallet_id)
    if q.same_wallet_id:
        stmt = stmt.where(t.wallet_id == q.same_wallet_id)
    for column, value in (
        (t.type, q.transaction_type),
        (t.transaction_reason, q.transaction_reason),
        (t.transaction_status, q.transaction_status),
        (t.reference_type, q.reference_type),
        (t.reference_id, q.reference_id),
        (t.created_by, q.created_by),
        (t.priority, q.priority),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    if q.credits_available_gt is not None:
        available: Any = t.credits_available
        if session.get_bind().dialect.name == "sqlite":
            # SQLite keeps amounts as canonical text (db/base.py Money): compare numbers.
            available = cast(available, Numeric)
        stmt = stmt.where(available > q.credits_available_gt)
    if q.expiry_date_after is not None:
        stmt = stmt.where(t.expiry_date > q.expiry_date_after)
    if q.expiry_date_before is not None:
        stmt = stmt.where(t.expiry_date < q.expiry_date_before)
    stmt = stmt.where(*created_between(t.created_at, q.start_time, q.end_time))
    direction = "asc" if q.ascending else "desc"
    if sort:
        stmt = apply_sort(stmt, sort, direction, TRANSACTION_COLUMNS)
    elif wallet_id is None:
        stmt = apply_sort(stmt, "created_at", direction, TRANSACTION_COLUMNS)
    # Within a wallet the ledger's own order; across wallets the id breaks ties.
    sequence = t.sequence.asc() if q.ascending else t.sequence.desc()
    stmt = stmt.order_by(sequence, t.id.asc() if q.ascending else t.id.desc())
    return page(session, stmt, limit, offset)


def all_transactions(session: Session, wallet_id: str) -> list[WalletTransaction]:
    return list(
        session.scalars(
            select(WalletTransaction)
            .where(WalletTransaction.wallet_id == wallet_id)
            .order_by(WalletTransaction.sequence)
        ).all()
    )
