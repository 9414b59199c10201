"""Wallet auto top-up: the settings and when they fire. Pure: no I/O.

A wallet's ``auto_topup`` (the SDK's ``AutoTopup``) adds ``amount`` credits when a debit
leaves the credit balance under ``threshold`` credits, at most once per crossing:

* the settings are *armed* when saved and whenever a credit entry takes the balance back
  to ``threshold`` or more;
* a debit (an invoice payment; not the wallet's termination) that leaves the balance under
  the threshold while armed fires one top-up and disarms; while disarmed nothing fires,
  however many debits follow, until the balance has recovered;
* ``cooldown`` (``{unit: second|minute|hour|day, value}``): a crossing within the cool-off
  after the last auto top-up does not fire and stays armed, so the first debit after the
  cool-off fires it.

The top-up is a ``PURCHASED_CREDIT_DIRECT`` credit (``invoicing: true``:
``PURCHASED_CREDIT_INVOICED``, which completes at once here, as every invoiced top-up does)
with the idempotency key ``auto_topup:<debit id>``: one per debit, whatever happens.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from meterline.kernel.errors import InvalidRequest

COOLDOWN_UNITS = {
    "second": timedelta(seconds=1),
    "minute": timedelta(minutes=1),
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
}
# The longest cool-off (a year).
MAX_COOLDOWN = timedelta(days=366)


@dataclass(frozen=True)
class AutoTopup:
    enabled: bool
    threshold: Decimal
    amount: Decimal
    invoicing: bool = False
    cooldown_unit: str | None = None
    cooldown_value: int | None = None
    armed: bool = True
    last_at: datetime | None = None

    @property
    def cooldown(self) -> timedelta:
        if self.cooldown_unit is None or not self.cooldown_value:
            return timedelta(0)
        return COOLDOWN_UNITS[self.cooldown_unit] * self.cooldown_value

    @property
    def reason(self) -> str:
        return "PURCHASED_CREDIT_INVOICED" if self.invoicing else "PURCHASED_CREDIT_DIRECT"

    def stored(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            "threshold": str(self.threshold),
            "amount": str(self.amount),
            "invoicing": self.invoicing,
            "cooldown_unit": self.cooldown_unit,
            "cooldown_value": self.cooldown_value,
            "armed": self.armed,
            "last_at": self.last_at.isoformat() if self.last_at else None,
        }


def loaded(raw: dict[str, Any] | None) -> AutoTopup | None:
    if not raw:
        return None
    last = raw.get("last_at")
    return AutoTopup(
        enabled=bool(raw["enabled"]),
        threshold=Decimal(raw["threshold"]),
        amount=Decimal(raw["amount"]),
        invoicing=bool(raw.get("invoicing")),
        cooldown_unit=raw.get("cooldown_unit"),
        cooldown_value=raw.get("cooldown_value"),
        armed=bool(raw.get("armed", True)),
        last_at=datetime.fromisoformat(last) if last else None,
    )


def fires(settings: AutoTopup | None, balance: Decimal, now: datetime) -> bool:
    """Whether a debit that left ``balance`` fires a top-up now."""
    if settings is None or not settings.enabled or not settings.armed:
        return False
    if balance >= settings.threshold:
        return False
    return settings.last_at is None or now >= settings.last_at + settings.cooldown


def fired(settings: AutoTopup, now: datetime) -> AutoTopup:
    return replace(settings, armed=False, last_at=now)


def after_credit(settings: AutoTopup | None, balance: Decimal) -> AutoTopup | None:
    """The settings once a credit left ``balance``: re-armed if it has recovered."""
    if settings is None or settings.armed or balance < settings.threshold:
        return None  # unchanged
    return replace(settings, armed=True)


def checked(settings: AutoTopup) -> AutoTopup:
    """``settings`` as saved (armed, never fired), or a 400 naming the field at fault."""
    # Turned off ({"enabled": false}), the settings need no amount.
    if (
        not settings.amount.is_finite()
        or settings.amount < 0
        or (settings.enabled and settings.amount == 0)
    ):
        raise InvalidRequest("auto_topup.amount must be greater than 0", field="auto_topup.amount")
    if not settings.threshold.is_finite() or settings.threshold < 0:
        raise InvalidRequest("auto_topup.threshold must be 0 or more", field="auto_topup.threshold")
    if settings.cooldown_unit is not None and settings.cooldown_unit not in COOLDOWN_UNITS:
        raise InvalidRequest(
            "auto_topup.cooldown.unit must be second, minute, hour or day",
            field="auto_topup.cooldown.unit",
            details={"allowed_values": list(COOLDOWN_UNITS)},
        )
    if settings.cooldown_value is not None and (
        settings.cooldown_value < 0 or settings.cooldown > MAX_COOLDOWN
    ):
        raise InvalidRequest(
            "auto_topup.cooldown must be between 0 and 366 days",
            field="auto_topup.cooldown.value",
        )
    if settings.cooldown_value and settings.cooldown_unit is None:
        raise InvalidRequest(
            "auto_topup.cooldown.unit is required with a value", field="auto_topup.cooldown.unit"
        )
    return replace(settings, armed=True, last_at=None)
