"""Every query of the wallets domain."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

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


def search(
    session: Session,
    environment_id: str,
    *,
    limit: int,
    offset: int,
    wallet_ids: Sequence[str] | None = None,
    customer_id: str | None = None,
    wallet_status: str | None = None,
) -> tuple[list[Wallet], int]:
    where = [Wallet.environment_id == environment_id]
    if wallet_ids:
        where.append(Wallet.id.in_(list(wallet_ids)))
    if customer_id:
        where.append(Wallet.customer_id == customer_id)
    if wallet_status:
        where.append(Wallet.wallet_status == wallet_status)
    total = session.scalar(select(func.count()).select_from(Wallet).where(*where)) or 0
    rows = session.scalars(
        select(Wallet)
        .where(*where)
        .order_by(Wallet.created_at.desc(), Wallet.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    return list(rows), int(total)


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


def transactions(
    session: Session,
    wallet_id: str,
    *,
    limit: int,
    offset: int,
    transaction_type: str | None = None,
    transaction_reason: str | None = None,
    transaction_status: str | None = None,
    ascending: bool = False,
) -> tuple[list[WalletTransaction], int]:
    where = [WalletTransaction.wallet_id == wallet_id]
    if transaction_type:
        where.append(WalletTransaction.type == transaction_type)
    if transaction_reason:
        where.append(WalletTransaction.transaction_reason == transaction_reason)
    if transaction_status:
        where.append(WalletTransaction.transaction_status == transaction_status)
    total = session.scalar(select(func.count()).select_from(WalletTransaction).where(*where)) or 0
    order = WalletTransaction.sequence.asc() if ascending else WalletTransaction.sequence.desc()
    rows = session.scalars(
        select(WalletTransaction).where(*where).order_by(order).limit(limit).offset(offset)
    ).all()
    return list(rows), int(total)


def all_transactions(session: Session, wallet_id: str) -> list[WalletTransaction]:
    return list(
        session.scalars(
            select(WalletTransaction)
            .where(WalletTransaction.wallet_id == wallet_id)
            .order_by(WalletTransaction.sequence)
        ).all()
    )
