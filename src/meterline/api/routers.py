"""Mounts every dialect's routers. Each domain adds its router here."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from meterline.api import fastpath, usage_report
from meterline.api.flexprice import accounts as fp_accounts
from meterline.api.flexprice import activity as fp_activity
from meterline.api.flexprice import addons as fp_addons
from meterline.api.flexprice import alert_settings as fp_alert_settings
from meterline.api.flexprice import analytics as fp_analytics
from meterline.api.flexprice import catalog as fp_catalog
from meterline.api.flexprice import checkout as fp_checkout
from meterline.api.flexprice import costs as fp_costs
from meterline.api.flexprice import coupons as fp_coupons
from meterline.api.flexprice import credit_grants as fp_credit_grants
from meterline.api.flexprice import credit_notes as fp_credit_notes
from meterline.api.flexprice import customer_portal as fp_customer_portal
from meterline.api.flexprice import customer_usage as fp_customer_usage
from meterline.api.flexprice import customers as fp_customers
from meterline.api.flexprice import entitlements as fp_entitlements
from meterline.api.flexprice import environment_clone as fp_environment_clone
from meterline.api.flexprice import events as fp_events
from meterline.api.flexprice import groups as fp_groups
from meterline.api.flexprice import hot_checks as fp_hot_checks
from meterline.api.flexprice import ingest as fp_ingest
from meterline.api.flexprice import integrations as fp_integrations
from meterline.api.flexprice import invoices as fp_invoices
from meterline.api.flexprice import payments as fp_payments
from meterline.api.flexprice import plans as fp_plans
from meterline.api.flexprice import price_sync as fp_price_sync
from meterline.api.flexprice import price_units as fp_price_units
from meterline.api.flexprice import prices as fp_prices
from meterline.api.flexprice import reports as fp_reports
from meterline.api.flexprice import scheduled_tasks as fp_scheduled_tasks
from meterline.api.flexprice import subscription_changes as fp_subscription_changes
from meterline.api.flexprice import subscription_items as fp_subscription_items
from meterline.api.flexprice import subscription_pauses as fp_subscription_pauses
from meterline.api.flexprice import subscription_schedules as fp_subscription_schedules
from meterline.api.flexprice import subscriptions as fp_subscriptions
from meterline.api.flexprice import tasks as fp_tasks
from meterline.api.flexprice import taxes as fp_taxes
from meterline.api.flexprice import tenants as fp_tenants
from meterline.api.flexprice import usage_records as fp_usage_records
from meterline.api.flexprice import users as fp_users
from meterline.api.flexprice import wallets as fp_wallets
from meterline.api.flexprice import webhooks as fp_webhooks
from meterline.api.http.route_table import RouteWordGuard
from meterline.api.kaiten import instances as kaiten_instances
from meterline.api.kaiten import leases as kaiten_leases
from meterline.api.kaiten import machines as kaiten_machines
from meterline.api.kaiten import offline as kaiten_offline
from meterline.api.kaiten import reservations as kaiten_reservations
from meterline.api.kaiten import usage as kaiten_usage
from meterline.api.kaiten.routes import router as kaiten_router
from meterline.ui import actions as ui_actions
from meterline.ui import pages as ui_pages
from meterline.ui import portal as ui_portal
from meterline.ui import routes as ui_routes


def include_routers(app: FastAPI) -> None:
    # Ahead of every router: a route word is never read as an id (api/http/route_table.py).
    app.router.routes.append(RouteWordGuard())
    app.include_router(kaiten_router, prefix="/api")
    app.include_router(kaiten_machines.router, prefix="/api")  # Meterline extensions
    app.include_router(kaiten_leases.router, prefix="/api")
    app.include_router(kaiten_reservations.router, prefix="/api")
    app.include_router(kaiten_offline.router, prefix="/api")
    app.include_router(usage_report.router, prefix="/v1")
    app.include_router(fp_accounts.router, prefix="/v1")
    app.include_router(fp_ingest.router, prefix="/v1")
    app.include_router(fp_events.router, prefix="/v1")
    app.include_router(fp_analytics.router, prefix="/v1")
    app.include_router(fp_catalog.router, prefix="/v1")
    app.include_router(fp_invoices.router, prefix="/v1")
    app.include_router(fp_wallets.router, prefix="/v1")
    app.include_router(fp_credit_grants.router, prefix="/v1")
    app.include_router(fp_alert_settings.router, prefix="/v1")
    app.include_router(fp_plans.router, prefix="/v1")
    # Ahead of the prices router: its /prices/{price_id} would take /prices/units.
    app.include_router(fp_price_units.router, prefix="/v1")
    app.include_router(fp_prices.router, prefix="/v1")
    app.include_router(fp_entitlements.router, prefix="/v1")
    # Ahead of subscriptions: its literal /subscriptions/schedules is their {subscription_id}.
    app.include_router(fp_subscription_schedules.router, prefix="/v1")
    app.include_router(fp_subscriptions.router, prefix="/v1")
    app.include_router(fp_subscription_changes.router, prefix="/v1")
    app.include_router(fp_subscription_items.router, prefix="/v1")
    app.include_router(fp_subscription_pauses.router, prefix="/v1")
    app.include_router(fp_customer_usage.router, prefix="/v1")
    app.include_router(fp_webhooks.router, prefix="/v1")
    app.include_router(fp_users.router, prefix="/v1")
    app.include_router(fp_coupons.router, prefix="/v1")
    app.include_router(fp_taxes.router, prefix="/v1")
    app.include_router(fp_credit_notes.router, prefix="/v1")
    app.include_router(fp_usage_records.router, prefix="/v1")
    app.include_router(fp_tenants.router, prefix="/v1")
    app.include_router(fp_customer_portal.router, prefix="/v1")
    app.include_router(fp_environment_clone.router, prefix="/v1")
    app.include_router(fp_activity.router, prefix="/v1")
    # Before the tasks router: /tasks/scheduled is no task id.
    app.include_router(fp_scheduled_tasks.router, prefix="/v1")
    app.include_router(fp_tasks.router, prefix="/v1")
    app.include_router(fp_payments.router, prefix="/v1")
    app.include_router(fp_checkout.router, prefix="/v1")
    app.include_router(fp_integrations.router, prefix="/v1")
    app.include_router(fp_addons.router, prefix="/v1")
    app.include_router(fp_price_sync.router, prefix="/v1")
    app.include_router(fp_groups.router, prefix="/v1")
    app.include_router(fp_costs.router, prefix="/v1")
    app.include_router(fp_reports.router, prefix="/v1")
    # Keep the customers router last among /v1: its /customers/{customer_id} would otherwise
    # shadow fixed paths such as /customers/usage mounted by other routers.
    app.include_router(fp_customers.router, prefix="/v1")
    app.include_router(ui_routes.router)
    app.include_router(ui_pages.router)
    app.include_router(ui_actions.router)
    app.include_router(ui_portal.router)
    ui_routes.install(app)
    # The routes served before FastAPI, ahead of everything, each in front of the FastAPI
    # route it shadows (api/fastpath.py).
    fastpath.install(app, fast_routes())


def fast_routes() -> list[fastpath.FastRoute[Any]]:
    kaiten = kaiten_usage.fast_routes(kaiten_instances.get_usage, kaiten_instances.report_usage)
    return [*kaiten, *fp_ingest.FAST_ROUTES, *fp_hot_checks.FAST_ROUTES]
