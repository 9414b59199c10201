"""The payment providers this process is configured with (settings ``payments``)."""

from __future__ import annotations

from meterline.kernel.errors import InvalidRequest
from meterline.payments.providers import OFFLINE, STRIPE, OfflineProvider, PaymentProvider
from meterline.payments.stripe_provider import StripeProvider
from meterline.settings import PaymentSettings


class Providers:
    """The providers this process is configured with, by name."""

    def __init__(self, settings: PaymentSettings) -> None:
        self._settings = settings
        self._stripe: PaymentProvider | None = None

    @property
    def stripe_configured(self) -> bool:
        return bool(self._settings.stripe_api_key)

    def get(self, name: str | None, field_name: str = "payment_gateway") -> PaymentProvider:
        if name is None or name == OFFLINE:
            return OfflineProvider()
        if name != STRIPE:
            raise InvalidRequest(
                f"{field_name} {name} is not supported: Meterline pays through stripe or "
                "records offline payments",
                field=field_name,
                details={"allowed_values": [STRIPE], "provided_value": name},
            )
        if not self._settings.stripe_api_key:
            raise InvalidRequest(
                "the stripe provider is not configured (METERLINE_STRIPE_API_KEY)",
                field=field_name,
                reason="provider_not_configured",
            )
        if self._stripe is None:
            self._stripe = StripeProvider(self._settings)
        return self._stripe
