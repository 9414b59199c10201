"""One payment-provider interface, and the registry of the providers this process has.

A provider moves money; the services around it (payments/service.py, refunds.py,
checkout.py) decide what to move and record what happened. A provider never raises for a
refusal or an outage: it answers an :class:`Outcome` whose ``status`` is ``FAILED`` and whose
``error`` says why, so that the caller records it on the payment and leaves the invoice as it
was. Every call that moves money carries an idempotency key, which the provider passes on
(Stripe's ``Idempotency-Key``): a retried call never moves it twice.

* ``offline``: bank transfers and cheques the vendor records; nothing is called, a payment
  succeeds when it is recorded as received and a refund is made out of band.
* ``stripe``: payments/stripe_provider.py, through the official ``stripe`` package.

The registry of the configured ones is payments/registry.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

OFFLINE = "offline"
STRIPE = "stripe"


@dataclass(frozen=True)
class Outcome:
    """What the provider did: ``SUCCEEDED``, ``PENDING`` (the customer or the bank has yet
    to act) or ``FAILED`` (``error`` says why: a declined card, the provider unreachable)."""

    status: str
    gateway_id: str | None = None
    error: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Charge:
    amount: Decimal
    currency: str
    idempotency_key: str
    provider_customer_id: str | None
    payment_method_id: str | None
    metadata: dict[str, str]
    # False: create the charge for the customer to complete (a checkout), do not confirm it.
    confirm: bool = True


@dataclass(frozen=True)
class SavedMethod:
    id: str
    type: str
    brand: str | None = None
    last4: str | None = None
    exp_month: int | None = None
    exp_year: int | None = None
    is_default: bool = False


class PaymentProvider(Protocol):
    name: str

    def ensure_customer(self, name: str | None, email: str | None, reference: str) -> str:
        """The provider's id of a new customer object for the Meterline customer
        ``reference``; raises :class:`ProviderUnavailable` when it cannot be made."""

    def charge(self, charge: Charge) -> Outcome: ...

    def charge_status(self, gateway_id: str) -> Outcome:
        """Where a charge made earlier (a checkout's) stands now."""

    def cancel_charge(self, gateway_id: str) -> Outcome: ...

    def refund(
        self, gateway_id: str, amount: Decimal, currency: str, idempotency_key: str
    ) -> Outcome: ...

    def payment_methods(self, provider_customer_id: str) -> Sequence[SavedMethod]:
        """The customer's saved methods; raises :class:`ProviderUnavailable`."""


class ProviderUnavailable(Exception):
    """The provider could not answer a read (its message is shown to the caller)."""


class OfflineProvider:
    """Money that moves outside Meterline: recorded, never called."""

    name = OFFLINE

    def ensure_customer(self, name: str | None, email: str | None, reference: str) -> str:
        return reference

    def charge(self, charge: Charge) -> Outcome:
        return Outcome("SUCCEEDED" if charge.confirm else "PENDING")

    def charge_status(self, gateway_id: str) -> Outcome:
        return Outcome("PENDING", gateway_id)

    def cancel_charge(self, gateway_id: str) -> Outcome:
        return Outcome("VOIDED", gateway_id)

    def refund(
        self, gateway_id: str, amount: Decimal, currency: str, idempotency_key: str
    ) -> Outcome:
        return Outcome("SUCCEEDED")

    def payment_methods(self, provider_customer_id: str) -> Sequence[SavedMethod]:
        return ()
