"""Imports every domain's tables so that ``Base.metadata`` is complete (migrations, tests)."""

from meterline.accounts import models as accounts_models
from meterline.activity import models as activity_models
from meterline.addons import models as addons_models
from meterline.alerts import models as alerts_models
from meterline.analytics import models as analytics_models
from meterline.catalog import models as catalog_models
from meterline.costs import models as costs_models
from meterline.credit_notes import models as credit_notes_models
from meterline.credits import models as credits_models
from meterline.currencies import models as currencies_models
from meterline.customers import models as customers_models
from meterline.db import catalog_version
from meterline.db.base import Base
from meterline.discounts import models as discounts_models
from meterline.entitlements import models as entitlements_models
from meterline.exports import models as exports_models
from meterline.groups import models as groups_models
from meterline.invoicing import failure_models as billing_models
from meterline.invoicing import models as invoices_models
from meterline.licensing import (
    distribution_models,
    flag_models,
    hold_models,
    integration_models,
    machine_models,
    offline_models,
)
from meterline.licensing import models as licensing_models
from meterline.metering import models as events_models
from meterline.metering import rebuilds as rebuild_models
from meterline.payments import models as payments_models
from meterline.portal import models as portal_models
from meterline.pricing import models as plans_models
from meterline.subscriptions import models as subscriptions_models
from meterline.taxes import models as taxes_models
from meterline.wallets import models as wallets_models
from meterline.webhooks import models as webhooks_models

__all__ = [
    "Base",
    "accounts_models",
    "activity_models",
    "addons_models",
    "alerts_models",
    "analytics_models",
    "billing_models",
    "catalog_models",
    "catalog_version",
    "costs_models",
    "credit_notes_models",
    "credits_models",
    "currencies_models",
    "customers_models",
    "discounts_models",
    "distribution_models",
    "entitlements_models",
    "events_models",
    "exports_models",
    "flag_models",
    "groups_models",
    "hold_models",
    "integration_models",
    "invoices_models",
    "licensing_models",
    "machine_models",
    "offline_models",
    "payments_models",
    "plans_models",
    "portal_models",
    "rebuild_models",
    "subscriptions_models",
    "taxes_models",
    "wallets_models",
    "webhooks_models",
]
