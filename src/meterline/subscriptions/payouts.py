"""Credits for unused time paid out to the customer's wallet.

Until credit notes exist, a proration credit an invoice cannot absorb (its lines add up to
less than 0) is topped up into the customer's wallet in the subscription's currency, as
upstream does; the wallet is opened when the customer has none. Each payout has its own
idempotency key, so a retried request never pays twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy.orm import Session

from meterline.accounts.principal import Principal
from meterline.invoicing.amounts import ZERO
from meterline.wallets import repository as wallet_repository
from meterline.wallets import service as wallets
from meterline.wallets.models import Wallet, WalletTransaction

REASON = "CREDIT_NOTE"


@dataclass(frozen=True)
class Payout:
    amount: Decimal
    wallet: Wallet
    transaction: WalletTransaction


def pay_to_wallet(
    session: Session,
    principal: Principal,
    *,
    customer_id: str,
    currency: str,
    amount: Decimal,
    key: str,
    description: str,
) -> Payout | None:
    """Tops ``amount`` (> 0, money) up into the customer's active ``currency`` wallet."""
    if amount <= ZERO:
        return None
    found = wallet_repository.active_of_customer(
        session, principal.environment_id, customer_id, currency
    )
    wallet = (
        found[0]
        if found
        else wallets.create_wallet(session, principal, currency=currency, customer_id=customer_id)
    )
    wallet, entry = wallets.top_up(
        session,
        principal,
        wallet.id,
        transaction_reason=REASON,
        amount=amount,
        idempotency_key=key,
        description=description,
    )
    return Payout(amount, wallet, entry)
