"""The SDK field inventory: every request-body field of every operation Meterline serves is
honoured (``HONOURED`` names a test that shows its effect on a later read) or refused by
name (the body model's ``unsupported``, published as ``x-unsupported``), and nothing else.

The fields come from the installed SDKs (tests/api/sdk_fields.py), so a new SDK field that
is in neither list fails ``test_every_sdk_field_is_honoured_or_refused``.
"""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api import sdk_fields
from tests.conftest import Server, Tenant, new_tenant
from tests.security.conftest import skip_clickhouse

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "wire-fields.md"

# Search, list and usage-query bodies are filters: the filter inventory covers them.
FILTERS = re.compile(
    r"/search$|/events/usage(/meter)?$|/events/query$|/subscriptions/usage$|/forex/query$"
)

# "<sdk>:<resource>.<method>" -> {wire field: "tests/...py::test_name"}. A field validated
# against a rule (subscription ``status`` against the state machine) counts as honoured when
# its test shows the allowed value applied and the others refused by name.
HONOURED: dict[str, dict[str, str]] = {
    "flexprice:customers.create_customer": {
        "address_city": "tests/api/test_field_echo.py::test_customer_fields_are_stored_on_create_and_update",
        "address_country": "tests/api/test_field_echo.py::test_customer_fields_are_stored_on_create_and_update",
        "address_line1": "tests/api/test_field_echo.py::test_customer_fields_are_stored_on_create_and_update",
        "address_line2": "tests/api/test_field_echo.py::test_customer_fields_are_stored_on_create_and_update",
        "address_postal_code": "tests/api/test_field_echo.py::test_customer_fields_are_stored_on_create_and_update",
        "address_state": "tests/api/test_field_echo.py::test_customer_fields_are_stored_on_create_and_update",
        "billing_currency": "tests/api/test_field_echo.py::test_customer_fields_are_stored_on_create_and_update",
        "contact": "tests/api/test_field_echo.py::test_customer_fields_are_stored_on_create_and_update",
        "email": "tests/api/test_field_echo.py::test_customer_fields_are_stored_on_create_and_update",
        "external_id": "tests/api/test_field_echo.py::test_customer_fields_are_stored_on_create_and_update",
        "metadata": "tests/api/test_field_echo.py::test_customer_fields_are_stored_on_create_and_update",
        "name": "tests/api/test_field_echo.py::test_customer_fields_are_stored_on_create_and_update",
        "skip_onboarding_workflow": "tests/api/test_field_readback.py::test_customer_skip_onboarding_workflow_is_accepted",
        "timezone": "tests/api/test_field_echo.py::test_customer_fields_are_stored_on_create_and_update",
    },
    "flexprice:customers.update_customer": {
        "address_city": "tests/api/test_field_echo.py::test_customer_fields_are_stored_on_create_and_update",
        "address_country": "tests/api/test_field_echo.py::test_customer_fields_are_stored_on_create_and_update",
        "address_line1": "tests/api/test_field_echo.py::test_customer_fields_are_stored_on_create_and_update",
        "address_line2": "tests/api/test_field_echo.py::test_customer_fields_are_stored_on_create_and_update",
        "address_postal_code": "tests/api/test_field_echo.py::test_customer_fields_are_stored_on_create_and_update",
        "address_state": "tests/api/test_field_echo.py::test_customer_fields_are_stored_on_create_and_update",
        "billing_currency": "tests/api/test_field_echo.py::test_customer_fields_are_stored_on_create_and_update",
        "contact": "tests/api/test_field_echo.py::test_customer_fields_are_stored_on_create_and_update",
        "email": "tests/api/test_field_echo.py::test_customer_fields_are_stored_on_create_and_update",
        "external_id": "tests/api/test_field_echo.py::test_customer_fields_are_stored_on_create_and_update",
        "metadata": "tests/api/test_field_echo.py::test_customer_fields_are_stored_on_create_and_update",
        "name": "tests/api/test_field_echo.py::test_customer_fields_are_stored_on_create_and_update",
        "timezone": "tests/api/test_field_echo.py::test_customer_fields_are_stored_on_create_and_update",
    },
    "flexprice:entitlements.create_entitlement": {
        "config_value": "tests/api/flexprice/test_entitlements.py::test_crud_search_and_types",
        "entity_id": "tests/api/flexprice/test_plans.py::test_plan_lifecycle_and_clone",
        "entity_type": "tests/api/flexprice/test_plans.py::test_plan_lifecycle_and_clone",
        "feature_id": "tests/api/flexprice/test_plans.py::test_plan_lifecycle_and_clone",
        "feature_type": "tests/api/flexprice/test_plans.py::test_plan_lifecycle_and_clone",
        "is_enabled": "tests/api/flexprice/test_plans.py::test_plan_lifecycle_and_clone",
        "is_soft_limit": "tests/api/flexprice/test_entitlements.py::test_crud_search_and_types",
        "plan_id": "tests/api/flexprice/test_plans.py::test_plan_lifecycle_and_clone",
        "static_value": "tests/api/flexprice/test_entitlements.py::test_crud_search_and_types",
        "usage_limit": "tests/api/flexprice/test_entitlements.py::test_crud_search_and_types",
        "usage_reset_period": "tests/api/flexprice/test_entitlements.py::test_crud_search_and_types",
    },
    "flexprice:entitlements.create_entitlements_bulk": {
        "items": "tests/api/flexprice/test_entitlements.py::test_crud_search_and_types",
    },
    "flexprice:entitlements.update_entitlement": {
        "config_value": "tests/api/flexprice/test_entitlements.py::test_crud_search_and_types",
        "is_enabled": "tests/api/flexprice/test_entitlements.py::test_crud_search_and_types",
        "is_soft_limit": "tests/api/flexprice/test_entitlements.py::test_crud_search_and_types",
        "static_value": "tests/api/flexprice/test_entitlements.py::test_crud_search_and_types",
        "usage_limit": "tests/api/flexprice/test_entitlements.py::test_crud_search_and_types",
        "usage_reset_period": "tests/api/flexprice/test_entitlements.py::test_crud_search_and_types",
    },
    "flexprice:analytics.get_revenue_analytics": {
        "allocation_policy": "tests/api/flexprice/test_revenue_analytics.py::test_billed_and_amortized_revenue",
        "currency": "tests/api/flexprice/test_revenue_analytics.py::test_billed_and_amortized_revenue",
        "customer_ids": "tests/api/flexprice/test_revenue_analytics.py::test_billed_and_amortized_revenue",
        "end_time": "tests/api/flexprice/test_revenue_analytics.py::test_billed_and_amortized_revenue",
        "granularity": "tests/api/flexprice/test_revenue_analytics.py::test_billed_and_amortized_revenue",
        "group_by": "tests/api/flexprice/test_revenue_analytics.py::test_billed_and_amortized_revenue",
        "include_adjustments": "tests/api/flexprice/test_revenue_analytics.py::test_billed_and_amortized_revenue",
        "meter_ids": "tests/api/flexprice/test_revenue_analytics.py::test_billed_and_amortized_revenue",
        "price_ids": "tests/api/flexprice/test_revenue_analytics.py::test_billed_and_amortized_revenue",
        "start_time": "tests/api/flexprice/test_revenue_analytics.py::test_billed_and_amortized_revenue",
        "status": "tests/api/flexprice/test_revenue_analytics.py::test_billed_and_amortized_revenue",
        "subscription_ids": "tests/api/flexprice/test_revenue_analytics.py::test_billed_and_amortized_revenue",
    },
    "flexprice:events.get_usage_analytics": {
        "end_time": "tests/api/flexprice/test_usage_analytics.py::test_usage_and_cost_per_feature_and_day",
        "external_customer_id": "tests/api/flexprice/test_usage_analytics.py::test_usage_and_cost_per_feature_and_day",
        "feature_ids": "tests/api/flexprice/test_usage_analytics.py::test_usage_and_cost_per_feature_and_day",
        "group_by": "tests/api/flexprice/test_usage_analytics.py::test_bad_analytics_requests_are_refused_by_name",
        "start_time": "tests/api/flexprice/test_usage_analytics.py::test_usage_and_cost_per_feature_and_day",
        "window_size": "tests/api/flexprice/test_usage_analytics.py::test_usage_and_cost_per_feature_and_day",
    },
    "flexprice:events.ingest_event": {
        "customer_id": "tests/api/flexprice/test_subscriptions.py::test_plan_prices_entitlements_subscription_usage_and_cancel",
        "event_id": "tests/api/flexprice/test_usage.py::test_usage_with_the_sdk",
        "event_name": "tests/api/flexprice/test_usage.py::test_usage_with_the_sdk",
        "external_customer_id": "tests/api/flexprice/test_usage.py::test_usage_with_the_sdk",
        "properties": "tests/api/flexprice/test_usage.py::test_usage_with_the_sdk",
        "source": "tests/api/test_field_readback.py::test_event_source_is_stored_and_filters_the_raw_events",
        "timestamp": "tests/api/flexprice/test_usage.py::test_usage_with_the_sdk",
    },
    "flexprice:events.ingest_events_bulk": {
        "events": "tests/api/flexprice/test_usage.py::test_usage_with_the_sdk",
    },
    "flexprice:features.clone_feature": {
        "description": "tests/api/flexprice/test_plans.py::test_plan_lifecycle_and_clone",
        "lookup_key": "tests/api/flexprice/test_plans.py::test_plan_lifecycle_and_clone",
        "metadata": "tests/api/flexprice/test_plans.py::test_plan_lifecycle_and_clone",
        "name": "tests/api/flexprice/test_plans.py::test_plan_lifecycle_and_clone",
    },
    "flexprice:features.create_feature": {
        "description": "tests/api/flexprice/test_plans.py::test_plan_lifecycle_and_clone",
        "lookup_key": "tests/metering/test_value_bounds.py::test_the_usage_report_answers_with_huge_values_stored",
        "metadata": "tests/api/flexprice/test_plans.py::test_plan_lifecycle_and_clone",
        "meter": "tests/api/flexprice/test_usage.py::test_usage_with_the_sdk",
        "meter_id": "tests/api/flexprice/test_usage.py::test_usage_with_the_sdk",
        "name": "tests/api/flexprice/test_usage.py::test_usage_with_the_sdk",
        "type": "tests/api/flexprice/test_usage.py::test_usage_with_the_sdk",
        "unit_plural": "tests/api/test_field_echo.py::test_feature_units_are_stored_on_create_and_update",
        "unit_singular": "tests/api/test_field_echo.py::test_feature_units_are_stored_on_create_and_update",
    },
    "flexprice:features.update_feature": {
        "description": "tests/api/flexprice/test_plans.py::test_plan_lifecycle_and_clone",
        "filters": "tests/api/test_field_readback.py::test_feature_filters_update_its_meter",
        "metadata": "tests/api/flexprice/test_plans.py::test_plan_lifecycle_and_clone",
        "name": "tests/api/flexprice/test_plans.py::test_plan_lifecycle_and_clone",
        "unit_plural": "tests/api/test_field_echo.py::test_feature_units_are_stored_on_create_and_update",
        "unit_singular": "tests/api/test_field_echo.py::test_feature_units_are_stored_on_create_and_update",
    },
    "flexprice:invoices.create_invoice": {
        "amount_due": "tests/invoicing/test_pdf.py::test_pdf_of_unknown_or_foreign_invoice_is_404",
        "amount_paid": "tests/webhooks/test_webhooks.py::test_finalized_invoice_is_delivered_signed_to_subscribed_endpoints_only",
        "billing_reason": "tests/api/flexprice/test_invoices.py::test_one_off_invoice_with_lines_is_a_numbered_finalized_invoice",
        "currency": "tests/invoicing/test_pdf.py::test_pdf_of_unknown_or_foreign_invoice_is_404",
        "customer_id": "tests/invoicing/test_pdf.py::test_pdf_of_unknown_or_foreign_invoice_is_404",
        "description": "tests/api/test_field_readback.py::test_one_off_invoice_fields_are_stored",
        "due_date": "tests/invoicing/test_pdf.py::test_finalized_invoice_pdf_shows_lines_credits_and_totals",
        "idempotency_key": "tests/api/test_field_readback.py::test_one_off_invoice_fields_are_stored",
        "invoice_status": "tests/api/flexprice/test_invoices.py::test_one_off_invoice_with_lines_is_a_numbered_finalized_invoice",
        "invoice_type": "tests/api/test_field_readback.py::test_one_off_invoice_fields_are_stored",
        "line_items": "tests/invoicing/test_pdf.py::test_pdf_uses_the_currency_minor_units",
        "metadata": "tests/api/test_field_readback.py::test_one_off_invoice_fields_are_stored",
        "payment_status": "tests/api/flexprice/test_invoices.py::test_one_off_invoice_with_lines_is_a_numbered_finalized_invoice",
        "period_end": "tests/invoicing/test_clock_properties.py::test_every_ended_period_is_billed_once_and_rerunning_changes_nothing",
        "period_start": "tests/invoicing/test_clock_properties.py::test_every_ended_period_is_billed_once_and_rerunning_changes_nothing",
        "subscription_id": "tests/invoicing/test_clock_properties.py::test_every_ended_period_is_billed_once_and_rerunning_changes_nothing",
        "subtotal": "tests/invoicing/test_pdf.py::test_pdf_of_unknown_or_foreign_invoice_is_404",
        "total": "tests/invoicing/test_pdf.py::test_pdf_of_unknown_or_foreign_invoice_is_404",
    },
    "flexprice:invoices.get_invoice_preview": {
        "hide_zero_charges_line_items": "tests/api/test_field_readback.py::test_preview_hides_zero_charges_line_items",
        "period_end": "tests/invoicing/test_background_clock.py::test_serve_bills_an_ended_period_in_the_background",
        "period_start": "tests/invoicing/test_isolation.py::test_a_subscription_that_cannot_be_billed_does_not_stop_the_others",
        "subscription_id": "tests/api/flexprice/test_invoices.py::test_preview_bills_usage_over_the_entitlement_and_the_next_advance_fee",
    },
    "flexprice:invoices.update_invoice": {
        "due_date": "tests/api/test_field_readback.py::test_invoice_due_date_and_pdf_url_are_updated",
        "invoice_pdf_url": "tests/api/test_field_readback.py::test_invoice_due_date_and_pdf_url_are_updated",
        "metadata": "tests/api/flexprice/test_invoices.py::test_search_update_and_idempotency",
    },
    "flexprice:invoices.update_invoice_payment_status": {
        "amount": "tests/api/flexprice/test_invoices.py::test_cancel_immediately_with_generate_invoice_then_finalize_pay_and_void",
        "payment_status": "tests/api/flexprice/test_invoices.py::test_cancel_immediately_with_generate_invoice_then_finalize_pay_and_void",
    },
    "flexprice:plans.clone_plan": {
        "description": "tests/api/flexprice/test_plans.py::test_plan_lifecycle_and_clone",
        "display_order": "tests/api/test_field_echo.py::test_plan_display_order_is_stored_on_create_update_and_clone",
        "lookup_key": "tests/api/flexprice/test_plans.py::test_plan_lifecycle_and_clone",
        "metadata": "tests/api/flexprice/test_plans.py::test_plan_lifecycle_and_clone",
        "name": "tests/api/flexprice/test_plans.py::test_plan_lifecycle_and_clone",
    },
    "flexprice:plans.create_plan": {
        "description": "tests/api/flexprice/test_plans.py::test_plan_lifecycle_and_clone",
        "display_order": "tests/api/test_field_echo.py::test_plan_display_order_is_stored_on_create_update_and_clone",
        "lookup_key": "tests/api/flexprice/test_plans.py::test_plan_lifecycle_and_clone",
        "metadata": "tests/api/flexprice/test_plans.py::test_plan_lifecycle_and_clone",
        "name": "tests/api/flexprice/test_plans.py::test_plan_lifecycle_and_clone",
    },
    "flexprice:plans.update_plan": {
        "description": "tests/api/flexprice/test_plans.py::test_plan_lifecycle_and_clone",
        "display_order": "tests/api/test_field_echo.py::test_plan_display_order_is_stored_on_create_update_and_clone",
        "lookup_key": "tests/api/flexprice/test_plans.py::test_plan_lifecycle_and_clone",
        "metadata": "tests/api/flexprice/test_plans.py::test_plan_lifecycle_and_clone",
        "name": "tests/api/flexprice/test_plans.py::test_plan_lifecycle_and_clone",
    },
    "flexprice:prices.create_price": {
        "amount": "tests/api/flexprice/test_plans.py::test_plan_lifecycle_and_clone",
        "billing_model": "tests/api/flexprice/test_plans.py::test_plan_lifecycle_and_clone",
        "billing_period": "tests/api/flexprice/test_plans.py::test_plan_lifecycle_and_clone",
        "billing_period_count": "tests/api/flexprice/test_plans.py::test_plan_lifecycle_and_clone",
        "currency": "tests/api/flexprice/test_plans.py::test_plan_lifecycle_and_clone",
        "description": "tests/api/flexprice/test_plans.py::test_plan_lifecycle_and_clone",
        "display_name": "tests/api/test_field_readback.py::test_price_fields_are_stored_on_create_and_update",
        "end_date": "tests/api/flexprice/test_prices.py::test_pricing_change_creates_a_new_version",
        "entity_id": "tests/api/flexprice/test_plans.py::test_plan_lifecycle_and_clone",
        "entity_type": "tests/api/flexprice/test_plans.py::test_plan_lifecycle_and_clone",
        "invoice_cadence": "tests/api/flexprice/test_plans.py::test_plan_lifecycle_and_clone",
        "lookup_key": "tests/api/flexprice/test_plans.py::test_plan_lifecycle_and_clone",
        "metadata": "tests/api/flexprice/test_plans.py::test_plan_lifecycle_and_clone",
        "meter_id": "tests/api/test_field_readback.py::test_price_fields_are_stored_on_create_and_update",
        "price_unit_type": "tests/api/flexprice/test_plans.py::test_plan_lifecycle_and_clone",
        "tier_mode": "tests/api/test_field_readback.py::test_price_fields_are_stored_on_create_and_update",
        "tiers": "tests/api/flexprice/test_subscriptions.py::test_plan_prices_entitlements_subscription_usage_and_cancel",
        "transform_quantity": "tests/api/flexprice/test_subscriptions.py::test_plan_prices_entitlements_subscription_usage_and_cancel",
        "trial_period_days": "tests/api/flexprice/test_plans.py::test_plan_lifecycle_and_clone",
        "type": "tests/api/flexprice/test_plans.py::test_plan_lifecycle_and_clone",
    },
    "flexprice:prices.create_prices_bulk": {
        "items": "tests/api/flexprice/test_prices.py::test_pricing_change_creates_a_new_version",
    },
    "flexprice:prices.delete_price": {
        "end_date": "tests/api/flexprice/test_prices.py::test_delete_terminates_once",
    },
    "flexprice:prices.update_price": {
        "amount": "tests/api/flexprice/test_prices.py::test_pricing_change_creates_a_new_version",
        "billing_model": "tests/api/flexprice/test_plans.py::test_plan_lifecycle_and_clone",
        "description": "tests/api/flexprice/test_prices.py::test_pricing_change_creates_a_new_version",
        "display_name": "tests/api/test_field_readback.py::test_price_fields_are_stored_on_create_and_update",
        "lookup_key": "tests/api/flexprice/test_prices.py::test_pricing_change_creates_a_new_version",
        "metadata": "tests/api/flexprice/test_plans.py::test_plan_lifecycle_and_clone",
        "tier_mode": "tests/api/test_field_readback.py::test_price_fields_are_stored_on_create_and_update",
        "tiers": "tests/api/test_field_readback.py::test_price_fields_are_stored_on_create_and_update",
        "transform_quantity": "tests/api/test_field_readback.py::test_price_fields_are_stored_on_create_and_update",
    },
    "flexprice:secrets.create_api_key": {
        "expires_at": "tests/api/flexprice/test_hot_checks.py::test_an_expired_key_is_refused_although_remembered",
        "name": "tests/api/flexprice/test_hot_checks.py::test_an_expired_key_is_refused_although_remembered",
        "type": "tests/scale/test_multiprocess.py::test_four_processes_ingest_the_same_events_exactly_once",
        "service_account_id": "tests/accounts/test_users_and_roles.py::test_the_role_matrix_over_a_sample_of_routes",
    },
    "flexprice:environments.clone_environment": {
        "name": "tests/accounts/test_environment_clone.py::test_clone_copies_the_catalog_with_new_ids_and_refuses_existing_keys",
        "target_environment_id": "tests/accounts/test_environment_clone.py::test_clone_copies_the_catalog_with_new_ids_and_refuses_existing_keys",
        "type": "tests/accounts/test_environment_clone.py::test_clone_copies_the_catalog_with_new_ids_and_refuses_existing_keys",
    },
    "flexprice:tenants.update_tenant": {
        "billing_details": "tests/accounts/test_tenant_profile.py::test_the_tenant_profile_through_the_sdk_and_on_the_invoice_pdf",
        "metadata": "tests/accounts/test_tenant_profile.py::test_the_tenant_profile_through_the_sdk_and_on_the_invoice_pdf",
        "name": "tests/accounts/test_tenant_profile.py::test_the_tenant_profile_through_the_sdk_and_on_the_invoice_pdf",
    },
    "flexprice:users.create_user": {
        "email": "tests/accounts/test_users_and_roles.py::test_users_service_accounts_and_roles_through_the_sdk",
        "name": "tests/accounts/test_users_and_roles.py::test_users_service_accounts_and_roles_through_the_sdk",
        "roles": "tests/accounts/test_users_and_roles.py::test_users_service_accounts_and_roles_through_the_sdk",
        "type": "tests/accounts/test_users_and_roles.py::test_users_service_accounts_and_roles_through_the_sdk",
    },
    "flexprice:users.update_service_account": {
        "name": "tests/accounts/test_users_and_roles.py::test_users_service_accounts_and_roles_through_the_sdk",
    },
    "flexprice:users.update_user": {
        "metadata": "tests/accounts/test_users_and_roles.py::test_users_service_accounts_and_roles_through_the_sdk",
        "name": "tests/accounts/test_users_and_roles.py::test_users_service_accounts_and_roles_through_the_sdk",
    },
    "flexprice:users.update_user_roles": {
        "roles": "tests/accounts/test_users_and_roles.py::test_users_service_accounts_and_roles_through_the_sdk",
    },
    "flexprice:subscriptions.activate_subscription": {
        "start_date": "tests/api/flexprice/test_subscriptions.py::test_draft_subscription_is_activated",
    },
    "flexprice:subscriptions.cancel_subscription": {
        "cancel_at": "tests/api/flexprice/test_hot_checks.py::test_a_scheduled_cancellation_takes_effect_without_any_write",
        "cancel_immediately_invoice_policy": "tests/api/flexprice/test_invoices.py::test_cancel_immediately_with_generate_invoice_then_finalize_pay_and_void",
        "cancellation_type": "tests/api/flexprice/test_invoices.py::test_cancel_immediately_with_generate_invoice_then_finalize_pay_and_void",
        "reason": "tests/api/flexprice/test_hot_checks.py::test_a_cancelled_subscription_stops_granting_at_once",
        "proration_behavior": "tests/subscriptions/test_cancel_credit.py::test_immediate_cancel_credits_unused_days_to_the_wallet",
    },
    "flexprice:subscriptions.create_subscription": {
        "billing_anchor": "tests/api/test_field_echo.py::test_subscription_fields_are_stored",
        "billing_cycle": "tests/api/flexprice/test_subscriptions.py::test_plan_prices_entitlements_subscription_usage_and_cancel",
        "billing_period": "tests/api/flexprice/test_subscriptions.py::test_subscription_override_wins_over_the_plan_grant",
        "billing_period_count": "tests/api/test_field_echo.py::test_subscription_fields_are_stored",
        "currency": "tests/api/flexprice/test_subscriptions.py::test_subscription_override_wins_over_the_plan_grant",
        "customer_id": "tests/api/flexprice/test_subscriptions.py::test_subscription_override_wins_over_the_plan_grant",
        "end_date": "tests/invoicing/test_clock_properties.py::test_every_ended_period_is_billed_once_and_rerunning_changes_nothing",
        "external_customer_id": "tests/api/flexprice/test_subscriptions.py::test_subscription_override_wins_over_the_plan_grant",
        "lookup_key": "tests/api/test_field_echo.py::test_subscription_fields_are_stored",
        "metadata": "tests/api/test_field_echo.py::test_subscription_fields_are_stored",
        "plan_id": "tests/api/flexprice/test_subscriptions.py::test_subscription_override_wins_over_the_plan_grant",
        "start_date": "tests/invoicing/test_clock_properties.py::test_every_ended_period_is_billed_once_and_rerunning_changes_nothing",
        "subscription_status": "tests/api/flexprice/test_subscriptions.py::test_plan_prices_entitlements_subscription_usage_and_cancel",
        "trial_period_days": "tests/api/test_field_echo.py::test_subscription_fields_are_stored",
        "override_line_items": "tests/subscriptions/test_seats.py::test_seats_multiply_fixed_charges_and_bad_quantities_are_refused",
    },
    "flexprice:subscriptions.execute_subscription_change": {
        "billing_cadence": "tests/subscriptions/test_plan_change.py::test_bad_plan_changes_are_refused_and_change_nothing",
        "billing_cycle": "tests/subscriptions/test_plan_change.py::test_bad_plan_changes_are_refused_and_change_nothing",
        "billing_period": "tests/subscriptions/test_plan_change.py::test_bad_plan_changes_are_refused_and_change_nothing",
        "billing_period_count": "tests/subscriptions/test_plan_change.py::test_upgrade_then_downgrade_prorate_and_the_preview_is_the_invoice",
        "change_at": "tests/subscriptions/test_plan_change.py::test_bad_plan_changes_are_refused_and_change_nothing",
        "metadata": "tests/subscriptions/test_plan_change.py::test_upgrade_then_downgrade_prorate_and_the_preview_is_the_invoice",
        "proration_behavior": "tests/subscriptions/test_plan_change.py::test_the_preview_is_what_the_execution_bills",
        "target_plan_id": "tests/subscriptions/test_plan_change.py::test_upgrade_then_downgrade_prorate_and_the_preview_is_the_invoice",
    },
    "flexprice:subscriptions.preview_subscription_change": {
        "billing_cadence": "tests/subscriptions/test_plan_change.py::test_upgrade_then_downgrade_prorate_and_the_preview_is_the_invoice",
        "billing_cycle": "tests/subscriptions/test_plan_change.py::test_upgrade_then_downgrade_prorate_and_the_preview_is_the_invoice",
        "billing_period": "tests/subscriptions/test_plan_change.py::test_upgrade_then_downgrade_prorate_and_the_preview_is_the_invoice",
        "billing_period_count": "tests/subscriptions/test_plan_change.py::test_upgrade_then_downgrade_prorate_and_the_preview_is_the_invoice",
        "change_at": "tests/subscriptions/test_plan_change.py::test_upgrade_then_downgrade_prorate_and_the_preview_is_the_invoice",
        "metadata": "tests/subscriptions/test_plan_change.py::test_upgrade_then_downgrade_prorate_and_the_preview_is_the_invoice",
        "proration_behavior": "tests/subscriptions/test_plan_change.py::test_upgrade_then_downgrade_prorate_and_the_preview_is_the_invoice",
        "target_plan_id": "tests/subscriptions/test_plan_change.py::test_upgrade_then_downgrade_prorate_and_the_preview_is_the_invoice",
    },
    "flexprice:subscriptions.execute_subscription_plan_change_v2": {
        "billing_period_behaviour": "tests/subscriptions/test_plan_change.py::test_upgrade_then_downgrade_prorate_and_the_preview_is_the_invoice",
        "change_at": "tests/subscriptions/test_plan_change.py::test_upgrade_then_downgrade_prorate_and_the_preview_is_the_invoice",
        "metadata": "tests/subscriptions/test_plan_change.py::test_upgrade_then_downgrade_prorate_and_the_preview_is_the_invoice",
        "proration_behavior": "tests/subscriptions/test_plan_change.py::test_upgrade_then_downgrade_prorate_and_the_preview_is_the_invoice",
        "target_plan_id": "tests/subscriptions/test_plan_change.py::test_upgrade_then_downgrade_prorate_and_the_preview_is_the_invoice",
    },
    "flexprice:subscriptions.preview_subscription_plan_change_v2": {
        "metadata": "tests/subscriptions/test_plan_change.py::test_upgrade_then_downgrade_prorate_and_the_preview_is_the_invoice",
        "billing_period_behaviour": "tests/subscriptions/test_plan_change.py::test_bad_plan_changes_are_refused_and_change_nothing",
        "change_at": "tests/subscriptions/test_plan_change.py::test_bad_plan_changes_are_refused_and_change_nothing",
        "proration_behavior": "tests/subscriptions/test_plan_change.py::test_upgrade_then_downgrade_prorate_and_the_preview_is_the_invoice",
        "target_plan_id": "tests/subscriptions/test_plan_change.py::test_upgrade_then_downgrade_prorate_and_the_preview_is_the_invoice",
    },
    "flexprice:subscriptions.execute_subscription_modify": {
        "quantity_change_params": "tests/subscriptions/test_line_items.py::test_seat_change_is_prorated_and_the_preview_is_the_execution",
        "type": "tests/subscriptions/test_line_items.py::test_seat_change_is_prorated_and_the_preview_is_the_execution",
    },
    "flexprice:subscriptions.preview_subscription_modify": {
        "quantity_change_params": "tests/subscriptions/test_line_items.py::test_seat_change_is_prorated_and_the_preview_is_the_execution",
        "type": "tests/subscriptions/test_line_items.py::test_seat_change_is_prorated_and_the_preview_is_the_execution",
    },
    "flexprice:subscriptions.create_subscription_line_item": {
        "display_name": "tests/subscriptions/test_line_items.py::test_a_line_item_is_added_updated_and_removed_with_proration",
        "metadata": "tests/subscriptions/test_line_items.py::test_a_line_item_is_added_updated_and_removed_with_proration",
        "price_id": "tests/subscriptions/test_line_items.py::test_a_line_item_is_added_updated_and_removed_with_proration",
        "proration_behavior": "tests/subscriptions/test_line_items.py::test_a_line_item_is_added_updated_and_removed_with_proration",
        "quantity": "tests/subscriptions/test_line_items.py::test_a_line_item_is_added_updated_and_removed_with_proration",
    },
    "flexprice:subscriptions.update_subscription_line_item": {
        "metadata": "tests/subscriptions/test_line_items.py::test_a_line_item_is_added_updated_and_removed_with_proration",
    },
    "flexprice:subscriptions.delete_subscription_line_item": {
        "proration_behavior": "tests/subscriptions/test_line_items.py::test_a_line_item_is_added_updated_and_removed_with_proration",
    },
    "flexprice:subscriptions.pause_subscription": {
        "metadata": "tests/subscriptions/test_pause.py::test_pause_credits_unused_days_grants_nothing_and_resume_starts_a_period",
        "proration_behavior": "tests/subscriptions/test_pause.py::test_pause_credits_unused_days_grants_nothing_and_resume_starts_a_period",
        "reason": "tests/subscriptions/test_pause.py::test_pause_credits_unused_days_grants_nothing_and_resume_starts_a_period",
    },
    "flexprice:subscriptions.resume_subscription": {
        "metadata": "tests/subscriptions/test_pause.py::test_pause_credits_unused_days_grants_nothing_and_resume_starts_a_period",
    },
    "flexprice:subscriptions.update_subscription": {
        "cancel_at": "tests/api/test_field_readback.py::test_subscription_cancel_at_is_stored",
        "cancel_at_period_end": "tests/api/test_field_echo.py::test_subscription_fields_are_stored",
        "status": "tests/api/test_field_readback.py::test_subscription_status_is_validated_against_the_state_machine",
    },
    "flexprice:alertsettings.create_alert_settings": {
        "config": "tests/wallets/test_alert_settings.py::test_wallet_alert_settings_follow_the_balance_through_each_level",
        "entity_id": "tests/wallets/test_alert_settings.py::test_wallet_alert_settings_follow_the_balance_through_each_level",
        "entity_type": "tests/wallets/test_alert_settings.py::test_wallet_alert_settings_follow_the_balance_through_each_level",
        "parent_entity_id": "tests/wallets/test_alert_settings.py::test_wallet_alert_settings_follow_the_balance_through_each_level",
        "parent_entity_type": "tests/wallets/test_alert_settings.py::test_wallet_alert_settings_follow_the_balance_through_each_level",
    },
    "flexprice:alertsettings.update_alert_settings": {
        "config": "tests/wallets/test_alert_settings.py::test_wallet_alert_settings_follow_the_balance_through_each_level",
    },
    "flexprice:credit_grants.create_credit_grant": {
        "cadence": "tests/credits/test_grants.py::test_a_recurring_plan_grant_applies_once_per_period_and_expires_with_the_cycle",
        "credits": "tests/credits/test_grants.py::test_a_recurring_plan_grant_applies_once_per_period_and_expires_with_the_cycle",
        "end_date": "tests/credits/test_grants.py::test_a_subscription_grant_once_with_a_duration_and_its_priority",
        "expiration_duration": "tests/credits/test_grants.py::test_a_subscription_grant_once_with_a_duration_and_its_priority",
        "expiration_duration_unit": "tests/credits/test_grants.py::test_a_subscription_grant_once_with_a_duration_and_its_priority",
        "expiration_type": "tests/credits/test_grants.py::test_a_recurring_plan_grant_applies_once_per_period_and_expires_with_the_cycle",
        "metadata": "tests/credits/test_grants.py::test_a_recurring_plan_grant_applies_once_per_period_and_expires_with_the_cycle",
        "name": "tests/credits/test_grants.py::test_a_recurring_plan_grant_applies_once_per_period_and_expires_with_the_cycle",
        "period": "tests/credits/test_grants.py::test_a_recurring_plan_grant_applies_once_per_period_and_expires_with_the_cycle",
        "period_count": "tests/credits/test_grants.py::test_a_recurring_plan_grant_applies_once_per_period_and_expires_with_the_cycle",
        "plan_id": "tests/credits/test_grants.py::test_a_recurring_plan_grant_applies_once_per_period_and_expires_with_the_cycle",
        "priority": "tests/credits/test_grants.py::test_a_subscription_grant_once_with_a_duration_and_its_priority",
        "scope": "tests/credits/test_grants.py::test_a_recurring_plan_grant_applies_once_per_period_and_expires_with_the_cycle",
        "start_date": "tests/credits/test_grants.py::test_a_subscription_grant_once_with_a_duration_and_its_priority",
        "subscription_id": "tests/credits/test_grants.py::test_a_subscription_grant_once_with_a_duration_and_its_priority",
    },
    "flexprice:credit_grants.delete_credit_grant": {
        "effective_date": "tests/credits/test_grants.py::test_a_subscription_grant_once_with_a_duration_and_its_priority",
    },
    "flexprice:credit_grants.update_credit_grant": {
        "end_date": "tests/credits/test_grants.py::test_a_subscription_grant_once_with_a_duration_and_its_priority",
        "metadata": "tests/credits/test_grants.py::test_a_subscription_grant_once_with_a_duration_and_its_priority",
        "name": "tests/credits/test_grants.py::test_a_subscription_grant_once_with_a_duration_and_its_priority",
    },
    "flexprice:wallets.create_wallet": {
        "alert_settings": "tests/wallets/test_alert_settings.py::test_a_wallet_body_carries_its_alert_settings",
        "auto_topup": "tests/wallets/test_auto_topup_and_real_time.py::test_auto_topup_fires_once_per_crossing_and_honours_its_cooldown",
        "conversion_rate": "tests/api/flexprice/test_wallets.py::test_conversion_rate_turns_money_into_credits",
        "currency": "tests/api/flexprice/test_wallets.py::test_update_wallet_and_unknown_wallet",
        "customer_id": "tests/api/flexprice/test_wallets.py::test_update_wallet_and_unknown_wallet",
        "description": "tests/api/test_field_echo.py::test_wallet_fields_are_stored_on_create_update_and_top_up",
        "external_customer_id": "tests/api/test_field_echo.py::test_wallet_fields_are_stored_on_create_update_and_top_up",
        "initial_credits_expiry_date_utc": "tests/api/test_field_readback.py::test_wallet_initial_credits_expiry_date_utc_is_stored",
        "initial_credits_to_load": "tests/api/flexprice/test_wallets.py::test_bad_top_ups_are_400_and_change_nothing",
        "initial_credits_to_load_expiry_date": "tests/api/test_field_echo.py::test_wallet_fields_are_stored_on_create_update_and_top_up",
        "metadata": "tests/api/flexprice/test_wallets.py::test_update_wallet_and_unknown_wallet",
        "topup_conversion_rate": "tests/api/test_field_echo.py::test_wallet_fields_are_stored_on_create_update_and_top_up",
        "wallet_type": "tests/api/test_field_echo.py::test_wallet_fields_are_stored_on_create_update_and_top_up",
    },
    "flexprice:wallets.top_up_wallet": {
        "amount": "tests/api/flexprice/test_wallets.py::test_conversion_rate_turns_money_into_credits",
        "credits_to_add": "tests/api/flexprice/test_wallets.py::test_create_top_up_balance_and_transactions",
        "description": "tests/api/test_field_echo.py::test_wallet_fields_are_stored_on_create_update_and_top_up",
        "expiry_date_utc": "tests/api/flexprice/test_wallets.py::test_credits_are_consumed_by_priority_then_expiry_then_age",
        "idempotency_key": "tests/api/flexprice/test_wallets.py::test_reused_idempotency_key_adds_nothing_twice",
        "metadata": "tests/api/test_field_echo.py::test_wallet_fields_are_stored_on_create_update_and_top_up",
        "priority": "tests/api/flexprice/test_wallets.py::test_credits_are_consumed_by_priority_then_expiry_then_age",
        "transaction_reason": "tests/api/flexprice/test_wallets.py::test_create_top_up_balance_and_transactions",
    },
    "flexprice:wallets.update_wallet": {
        "alert_settings": "tests/wallets/test_alert_settings.py::test_a_wallet_body_carries_its_alert_settings",
        "auto_topup": "tests/wallets/test_auto_topup_and_real_time.py::test_auto_topup_fires_once_per_crossing_and_honours_its_cooldown",
        "config": "tests/api/test_field_echo.py::test_wallet_fields_are_stored_on_create_update_and_top_up",
        "description": "tests/api/test_field_echo.py::test_wallet_fields_are_stored_on_create_update_and_top_up",
        "metadata": "tests/api/flexprice/test_wallets.py::test_update_wallet_and_unknown_wallet",
        "name": "tests/api/flexprice/test_wallets.py::test_update_wallet_and_unknown_wallet",
    },
    "kaiten:connectors.update_settings": {
        "settings": "tests/api/kaiten/test_connectors.py::test_settings",
    },
    "kaiten:feature_flags.create": {
        "default_variant": "tests/api/kaiten/test_feature_flags.py::test_flag_crud",
        "description": "tests/api/kaiten/test_feature_flags.py::test_flag_crud",
        "enabled": "tests/api/kaiten/test_feature_flags.py::test_flag_crud",
        "event_name": "tests/api/kaiten/test_feature_flags.py::test_flag_crud",
        "metadata": "tests/api/kaiten/test_feature_flags.py::test_flag_crud",
        "name": "tests/api/kaiten/test_feature_flags.py::test_flag_crud",
        "slug": "tests/api/kaiten/test_feature_flags.py::test_flag_crud",
        "targetings": "tests/api/kaiten/test_feature_flags.py::test_flag_crud",
        "type": "tests/api/kaiten/test_feature_flags.py::test_flag_crud",
        "variants": "tests/api/kaiten/test_feature_flags.py::test_flag_crud",
    },
    "kaiten:feature_flags.update": {
        "default_variant": "tests/api/kaiten/test_feature_flags.py::test_flag_crud",
        "description": "tests/api/kaiten/test_feature_flags.py::test_flag_crud",
        "enabled": "tests/api/kaiten/test_feature_flags.py::test_flag_crud",
        "event_name": "tests/api/kaiten/test_feature_flags.py::test_flag_crud",
        "metadata": "tests/api/kaiten/test_feature_flags.py::test_flag_crud",
        "name": "tests/api/kaiten/test_feature_flags.py::test_flag_crud",
        "targetings": "tests/api/kaiten/test_feature_flags.py::test_flag_crud",
        "type": "tests/api/kaiten/test_feature_flags.py::test_flag_crud",
        "variants": "tests/api/kaiten/test_feature_flags.py::test_flag_crud",
    },
    "kaiten:customers.create": {
        "domain": "tests/api/test_field_echo.py::test_kaiten_group_and_customer_fields_are_stored",
        "externalCustomerId": "tests/api/test_field_echo.py::test_kaiten_group_and_customer_fields_are_stored",
        "integrations": "tests/api/kaiten/test_integrations.py::test_integrations_on_create",
        "name": "tests/api/test_field_echo.py::test_kaiten_group_and_customer_fields_are_stored",
        "slug": "tests/api/test_field_echo.py::test_kaiten_group_and_customer_fields_are_stored",
    },
    "kaiten:customers.create_integration": {
        "external_id": "tests/api/kaiten/test_integrations.py::test_customer_integration_crud",
        "last_error": "tests/api/kaiten/test_integrations.py::test_customer_integration_crud",
        "metadata": "tests/api/kaiten/test_integrations.py::test_customer_integration_crud",
        "web_url": "tests/api/kaiten/test_integrations.py::test_customer_integration_crud",
    },
    "kaiten:customers.update": {
        "domain": "tests/api/test_field_echo.py::test_kaiten_group_and_customer_fields_are_stored",
        "externalCustomerId": "tests/api/test_field_echo.py::test_kaiten_group_and_customer_fields_are_stored",
        "name": "tests/api/test_field_echo.py::test_kaiten_group_and_customer_fields_are_stored",
    },
    "kaiten:customers.update_integration": {
        "external_id": "tests/api/kaiten/test_integrations.py::test_customer_integration_crud",
        "last_error": "tests/api/kaiten/test_integrations.py::test_customer_integration_crud",
        "metadata": "tests/api/kaiten/test_integrations.py::test_customer_integration_crud",
        "web_url": "tests/api/kaiten/test_integrations.py::test_customer_integration_crud",
    },
    "kaiten:entitlement_groups.add_entitlement": {
        "entitlementSlug": "tests/api/test_field_echo.py::test_kaiten_group_and_customer_fields_are_stored",
    },
    "kaiten:entitlement_groups.create": {
        "description": "tests/api/test_field_echo.py::test_kaiten_group_and_customer_fields_are_stored",
        "name": "tests/api/test_field_echo.py::test_kaiten_group_and_customer_fields_are_stored",
        "slug": "tests/api/test_field_echo.py::test_kaiten_group_and_customer_fields_are_stored",
    },
    "kaiten:entitlement_groups.update": {
        "description": "tests/api/test_field_echo.py::test_kaiten_group_and_customer_fields_are_stored",
        "name": "tests/api/test_field_echo.py::test_kaiten_group_and_customer_fields_are_stored",
    },
    "kaiten:entitlements.create": {
        "aggregationMethod": "tests/api/test_field_echo.py::test_kaiten_entitlement_fields_are_stored_on_create_and_update",
        "description": "tests/api/test_field_echo.py::test_kaiten_entitlement_fields_are_stored_on_create_and_update",
        "displayOrder": "tests/api/test_field_echo.py::test_kaiten_entitlement_fields_are_stored_on_create_and_update",
        "groupSlugs": "tests/api/test_field_echo.py::test_kaiten_entitlement_fields_are_stored_on_create_and_update",
        "icon": "tests/api/test_field_echo.py::test_kaiten_entitlement_fields_are_stored_on_create_and_update",
        "name": "tests/api/test_field_echo.py::test_kaiten_entitlement_fields_are_stored_on_create_and_update",
        "resetAnchor": "tests/api/test_field_echo.py::test_kaiten_entitlement_fields_are_stored_on_create_and_update",
        "resetPeriod": "tests/api/test_field_echo.py::test_kaiten_entitlement_fields_are_stored_on_create_and_update",
        "saleUnitFactor": "tests/api/test_field_echo.py::test_kaiten_entitlement_fields_are_stored_on_create_and_update",
        "saleUnitPlural": "tests/api/test_field_echo.py::test_kaiten_entitlement_fields_are_stored_on_create_and_update",
        "saleUnitSingular": "tests/api/test_field_echo.py::test_kaiten_entitlement_fields_are_stored_on_create_and_update",
        "slug": "tests/api/test_field_echo.py::test_kaiten_entitlement_fields_are_stored_on_create_and_update",
        "type": "tests/api/test_field_echo.py::test_kaiten_entitlement_fields_are_stored_on_create_and_update",
        "unitPlural": "tests/api/test_field_echo.py::test_kaiten_entitlement_fields_are_stored_on_create_and_update",
        "unitSingular": "tests/api/test_field_echo.py::test_kaiten_entitlement_fields_are_stored_on_create_and_update",
        "userFacing": "tests/api/test_field_echo.py::test_kaiten_entitlement_fields_are_stored_on_create_and_update",
        "warningThresholdPercent": "tests/api/test_field_echo.py::test_kaiten_entitlement_fields_are_stored_on_create_and_update",
    },
    "kaiten:entitlements.update": {
        "aggregationMethod": "tests/api/test_field_echo.py::test_kaiten_entitlement_fields_are_stored_on_create_and_update",
        "description": "tests/api/test_field_echo.py::test_kaiten_entitlement_fields_are_stored_on_create_and_update",
        "displayOrder": "tests/api/test_field_echo.py::test_kaiten_entitlement_fields_are_stored_on_create_and_update",
        "groupSlugs": "tests/api/test_field_echo.py::test_kaiten_entitlement_fields_are_stored_on_create_and_update",
        "icon": "tests/api/test_field_echo.py::test_kaiten_entitlement_fields_are_stored_on_create_and_update",
        "name": "tests/api/test_field_echo.py::test_kaiten_entitlement_fields_are_stored_on_create_and_update",
        "resetAnchor": "tests/api/test_field_echo.py::test_kaiten_entitlement_fields_are_stored_on_create_and_update",
        "resetPeriod": "tests/api/test_field_echo.py::test_kaiten_entitlement_fields_are_stored_on_create_and_update",
        "saleUnitFactor": "tests/api/test_field_echo.py::test_kaiten_entitlement_fields_are_stored_on_create_and_update",
        "saleUnitPlural": "tests/api/test_field_echo.py::test_kaiten_entitlement_fields_are_stored_on_create_and_update",
        "saleUnitSingular": "tests/api/test_field_echo.py::test_kaiten_entitlement_fields_are_stored_on_create_and_update",
        "type": "tests/api/test_field_echo.py::test_kaiten_entitlement_fields_are_stored_on_create_and_update",
        "unitPlural": "tests/api/test_field_echo.py::test_kaiten_entitlement_fields_are_stored_on_create_and_update",
        "unitSingular": "tests/api/test_field_echo.py::test_kaiten_entitlement_fields_are_stored_on_create_and_update",
        "userFacing": "tests/api/test_field_echo.py::test_kaiten_entitlement_fields_are_stored_on_create_and_update",
        "warningThresholdPercent": "tests/api/test_field_echo.py::test_kaiten_entitlement_fields_are_stored_on_create_and_update",
    },
    "kaiten:instances.create": {
        "customerId": "tests/api/test_field_echo.py::test_kaiten_license_and_instance_fields_are_stored",
        "deploymentZoneId": "tests/api/kaiten/test_zones.py::test_instance_deployment_zone",
        "description": "tests/api/test_field_echo.py::test_kaiten_license_and_instance_fields_are_stored",
        "endLicenseDate": "tests/api/test_field_echo.py::test_kaiten_license_and_instance_fields_are_stored",
        "integrations": "tests/api/kaiten/test_integrations.py::test_integrations_on_create",
        "licenseId": "tests/api/test_field_echo.py::test_kaiten_license_and_instance_fields_are_stored",
        "metadata": "tests/api/test_field_echo.py::test_kaiten_license_and_instance_fields_are_stored",
        "name": "tests/api/test_field_echo.py::test_kaiten_license_and_instance_fields_are_stored",
        "slug": "tests/api/test_field_echo.py::test_kaiten_license_and_instance_fields_are_stored",
        "startLicenseDate": "tests/api/test_field_echo.py::test_kaiten_license_and_instance_fields_are_stored",
    },
    "kaiten:instances.create_integration": {
        "external_id": "tests/api/kaiten/test_integrations.py::test_instance_integration_crud",
        "last_error": "tests/api/kaiten/test_integrations.py::test_instance_integration_crud",
        "metadata": "tests/api/kaiten/test_integrations.py::test_instance_integration_crud",
        "web_url": "tests/api/kaiten/test_integrations.py::test_instance_integration_crud",
    },
    "kaiten:instances.report_usage": {
        "behavior": "tests/api/kaiten/test_sdk_flow.py::test_usage_append_set_threshold_boolean_and_list",
        "metadata": "tests/api/kaiten/test_sdk_flow.py::test_usage_append_set_threshold_boolean_and_list",
        "value": "tests/api/kaiten/test_sdk_flow.py::test_not_found_errors_carry_codes",
    },
    "kaiten:instances.update": {
        "customerId": "tests/api/test_field_echo.py::test_kaiten_license_and_instance_fields_are_stored",
        "deploymentZoneId": "tests/api/kaiten/test_zones.py::test_instance_deployment_zone",
        "description": "tests/api/test_field_echo.py::test_kaiten_license_and_instance_fields_are_stored",
        "endLicenseDate": "tests/api/test_field_echo.py::test_kaiten_license_and_instance_fields_are_stored",
        "licenseId": "tests/api/test_field_echo.py::test_kaiten_license_and_instance_fields_are_stored",
        "metadata": "tests/api/test_field_echo.py::test_kaiten_license_and_instance_fields_are_stored",
        "name": "tests/api/test_field_echo.py::test_kaiten_license_and_instance_fields_are_stored",
        "slug": "tests/api/test_field_echo.py::test_kaiten_license_and_instance_fields_are_stored",
        "startLicenseDate": "tests/api/test_field_echo.py::test_kaiten_license_and_instance_fields_are_stored",
    },
    "kaiten:instances.update_integration": {
        "external_id": "tests/api/kaiten/test_integrations.py::test_instance_integration_crud",
        "last_error": "tests/api/kaiten/test_integrations.py::test_instance_integration_crud",
        "metadata": "tests/api/kaiten/test_integrations.py::test_instance_integration_crud",
        "web_url": "tests/api/kaiten/test_integrations.py::test_instance_integration_crud",
    },
    "kaiten:instances.update_lifecycle_stage": {
        "lifecycleStage": "tests/api/kaiten/test_sdk_flow.py::test_catalog_licenses_grants_customers_instances",
    },
    "kaiten:instances.update_status": {
        "status": "tests/api/kaiten/test_sdk_flow.py::test_catalog_licenses_grants_customers_instances",
    },
    "kaiten:integrations.upsert_customer": {
        "domain": "tests/api/kaiten/test_integrations.py::test_upsert_customer",
        "error": "tests/api/kaiten/test_integrations.py::test_upsert_customer",
        "integrationMetadata": "tests/api/kaiten/test_integrations.py::test_upsert_customer",
        "name": "tests/api/kaiten/test_integrations.py::test_upsert_customer",
        "slug": "tests/api/kaiten/test_integrations.py::test_upsert_customer",
        "webUrl": "tests/api/kaiten/test_integrations.py::test_upsert_customer",
    },
    "kaiten:integrations.upsert_instance": {
        "customerExternalId": "tests/api/kaiten/test_integrations.py::test_upsert_instance",
        "deploymentZoneId": "tests/api/kaiten/test_integrations.py::test_upsert_instance",
        "description": "tests/api/kaiten/test_integrations.py::test_upsert_instance",
        "endLicenseDate": "tests/api/kaiten/test_integrations.py::test_upsert_instance",
        "error": "tests/api/kaiten/test_integrations.py::test_upsert_instance",
        "integrationMetadata": "tests/api/kaiten/test_integrations.py::test_upsert_instance",
        "licenseId": "tests/api/kaiten/test_integrations.py::test_upsert_instance",
        "metadata": "tests/api/kaiten/test_integrations.py::test_upsert_instance",
        "name": "tests/api/kaiten/test_integrations.py::test_upsert_instance",
        "slug": "tests/api/kaiten/test_integrations.py::test_upsert_instance",
        "startLicenseDate": "tests/api/kaiten/test_integrations.py::test_upsert_instance",
        "webUrl": "tests/api/kaiten/test_integrations.py::test_upsert_instance",
    },
    "kaiten:licenses.associate_entitlement": {
        "entitlementSlug": "tests/api/test_field_echo.py::test_kaiten_license_and_instance_fields_are_stored",
        "limitCapExceededOveragePercent": "tests/api/test_field_echo.py::test_kaiten_license_and_instance_fields_are_stored",
        "value": "tests/api/kaiten/test_sdk_flow.py::test_not_found_errors_carry_codes",
    },
    "kaiten:licenses.create": {
        "description": "tests/reliability/test_races.py::test_kaiten_reports_hold_a_hard_limit_across_processes",
        "familyId": "tests/api/test_field_echo.py::test_kaiten_license_and_instance_fields_are_stored",
        "familySlug": "tests/api/kaiten/test_sdk_flow.py::test_license_lifecycle_families_and_versions",
        "isDefault": "tests/api/kaiten/test_sdk_flow.py::test_license_lifecycle_families_and_versions",
        "lifecycleState": "tests/api/kaiten/test_sdk_flow.py::test_license_lifecycle_families_and_versions",
        "name": "tests/api/kaiten/test_sdk_flow.py::test_not_found_errors_carry_codes",
        "slug": "tests/api/kaiten/test_sdk_flow.py::test_not_found_errors_carry_codes",
        "type": "tests/api/kaiten/test_sdk_flow.py::test_not_found_errors_carry_codes",
        "versionName": "tests/api/test_field_echo.py::test_kaiten_license_and_instance_fields_are_stored",
    },
    "kaiten:licenses.update": {
        "description": "tests/api/test_field_echo.py::test_kaiten_license_and_instance_fields_are_stored",
        "isDefault": "tests/api/kaiten/test_sdk_flow.py::test_catalog_licenses_grants_customers_instances",
        "name": "tests/api/kaiten/test_sdk_flow.py::test_license_lifecycle_families_and_versions",
        "type": "tests/api/kaiten/test_sdk_flow.py::test_catalog_licenses_grants_customers_instances",
        "versionName": "tests/api/test_field_echo.py::test_kaiten_license_and_instance_fields_are_stored",
    },
    "kaiten:licenses.update_entitlement": {
        "limitCapExceededOveragePercent": "tests/api/kaiten/test_sdk_flow.py::test_catalog_licenses_grants_customers_instances",
        "value": "tests/api/kaiten/test_sdk_flow.py::test_catalog_licenses_grants_customers_instances",
    },
    # Deployment zones, components, releases, metadata fields.
    "kaiten:components.create": {
        "description": "tests/api/kaiten/test_components.py::test_component_crud",
        "name": "tests/api/kaiten/test_components.py::test_component_crud",
        "previousComponentId": "tests/api/kaiten/test_components.py::test_component_crud",
        "slug": "tests/api/kaiten/test_components.py::test_component_crud",
        "version": "tests/api/kaiten/test_components.py::test_component_crud",
    },
    "kaiten:components.update": {
        "description": "tests/api/kaiten/test_components.py::test_component_crud",
        "name": "tests/api/kaiten/test_components.py::test_component_crud",
        "version": "tests/api/kaiten/test_components.py::test_component_crud",
    },
    "kaiten:deployment_zones.create": {
        "description": "tests/api/kaiten/test_zones.py::test_zone_crud",
        "metadata": "tests/api/kaiten/test_zones.py::test_zone_crud",
        "name": "tests/api/kaiten/test_zones.py::test_zone_crud",
        "releaseId": "tests/api/kaiten/test_zones.py::test_zone_errors",
        "slug": "tests/api/kaiten/test_zones.py::test_zone_crud",
        "type": "tests/api/kaiten/test_zones.py::test_zone_crud",
    },
    "kaiten:deployment_zones.update": {
        "description": "tests/api/kaiten/test_zones.py::test_zone_crud",
        "metadata": "tests/api/kaiten/test_zones.py::test_zone_crud",
        "name": "tests/api/kaiten/test_zones.py::test_zone_crud",
        "releaseId": "tests/api/kaiten/test_zones.py::test_zone_crud",
        "type": "tests/api/kaiten/test_zones.py::test_zone_crud",
    },
    "kaiten:metadata_fields.create": {
        "displayOrder": "tests/api/kaiten/test_metadata_fields.py::test_create_list_update_archive_unarchive",
        "jsonSchema": "tests/api/kaiten/test_metadata_fields.py::test_create_list_update_archive_unarchive",
        "key": "tests/api/kaiten/test_metadata_fields.py::test_create_list_update_archive_unarchive",
        "label": "tests/api/kaiten/test_metadata_fields.py::test_create_list_update_archive_unarchive",
        "resourceType": "tests/api/kaiten/test_metadata_fields.py::test_create_list_update_archive_unarchive",
    },
    "kaiten:metadata_fields.dry_run": {
        "jsonSchema": "tests/api/kaiten/test_metadata_fields.py::test_instance_metadata_is_validated_and_dry_run",
    },
    "kaiten:metadata_fields.reorder": {
        "ids": "tests/api/kaiten/test_metadata_fields.py::test_create_list_update_archive_unarchive",
    },
    "kaiten:metadata_fields.update": {
        "jsonSchema": "tests/api/kaiten/test_metadata_fields.py::test_create_list_update_archive_unarchive",
        "key": "tests/api/kaiten/test_metadata_fields.py::test_create_list_update_archive_unarchive",
        "label": "tests/api/kaiten/test_metadata_fields.py::test_create_list_update_archive_unarchive",
        "resourceType": "tests/api/kaiten/test_metadata_fields.py::test_create_list_update_archive_unarchive",
    },
    "kaiten:releases.create": {
        "componentIds": "tests/api/kaiten/test_releases.py::test_release_create_get_list_delete",
        "description": "tests/api/kaiten/test_releases.py::test_release_create_get_list_delete",
        "slug": "tests/api/kaiten/test_releases.py::test_release_create_get_list_delete",
        "version": "tests/api/kaiten/test_releases.py::test_release_create_get_list_delete",
    },
    "kaiten:service_accounts.create": {
        "name": "tests/api/kaiten/test_service_accounts.py::test_service_account_crud",
        "slug": "tests/api/kaiten/test_service_accounts.py::test_service_account_crud",
    },
    "kaiten:service_accounts.create_token": {
        "expiresAt": "tests/api/kaiten/test_service_accounts.py::test_a_token_expires",
        "name": "tests/api/kaiten/test_service_accounts.py::test_token_names_and_slugs",
        "scopes": "tests/api/kaiten/test_service_accounts.py::test_token_names_and_slugs",
        "slug": "tests/api/kaiten/test_service_accounts.py::test_token_names_and_slugs",
    },
    "kaiten:service_accounts.update": {
        "name": "tests/api/kaiten/test_service_accounts.py::test_service_account_crud",
    },
}


# Coupons: the catalog, redemption on subscription create and its discounts.
_COUPONS = "tests/discounts/test_coupons.py::test_coupon_catalog_and_discounts_over_three_invoices"
_COUPON_LIMITS = (
    "tests/discounts/test_coupons.py::test_redemption_limits_windows_and_refusals_change_nothing"
)
HONOURED["flexprice:coupons.create_coupon"] = {
    name: _COUPONS
    for name in (
        "amount_off",
        "cadence",
        "coupon_code",
        "currency",
        "duration_in_periods",
        "metadata",
        "name",
        "percentage_off",
        "type",
    )
} | {name: _COUPON_LIMITS for name in ("max_redemptions", "redeem_after", "redeem_before")}
HONOURED["flexprice:coupons.update_coupon"] = {"metadata": _COUPONS, "name": _COUPONS}
HONOURED["flexprice:subscriptions.create_subscription"] |= {
    "coupons": _COUPONS,
    "subscription_coupons": _COUPONS,
    "line_item_coupons": _COUPON_LIMITS,
}
_TAX_RATES = "tests/discounts/test_tax_rates.py::test_tax_rate_crud_and_refusals"
HONOURED["flexprice:tax_rates.create_tax_rate"] = {
    name: _TAX_RATES
    for name in (
        "code",
        "description",
        "metadata",
        "name",
        "percentage_value",
        "scope",
        "tax_rate_type",
    )
}
HONOURED["flexprice:tax_rates.update_tax_rate"] = {
    name: _TAX_RATES for name in ("code", "description", "metadata", "name", "tax_rate_status")
}
_TAXES = "tests/discounts/test_taxes.py::test_tax_levels_rates_rounding_and_discounts_before_tax"
HONOURED["flexprice:tax_associations.create_tax_association"] = {
    name: _TAXES
    for name in (
        "auto_apply",
        "currency",
        "end_date",
        "entity_id",
        "entity_type",
        "external_customer_id",
        "metadata",
        "priority",
        "start_date",
        "tax_behavior",
        "tax_rate_code",
    )
}
HONOURED["flexprice:customers.create_customer"]["tax_treatment"] = _TAXES
HONOURED["flexprice:customers.update_customer"]["tax_treatment"] = _TAXES
HONOURED["flexprice:credit_notes.create_credit_note"] = {
    name: "tests/discounts/test_credit_notes.py::test_credit_notes_limits_finalize_and_void"
    for name in (
        "credit_note_number",
        "idempotency_key",
        "invoice_id",
        "line_items",
        "memo",
        "metadata",
        "process_credit_note",
        "reason",
    )
}
HONOURED["flexprice:tax_associations.update_tax_association"] = {
    name: _TAXES for name in ("auto_apply", "metadata", "priority", "tax_behavior")
}

_OFFLINE = "tests/payments/test_offline.py::test_offline_payments_flow_back_to_the_invoice"
_PENDING = "tests/payments/test_offline.py::test_pending_failed_retried_deleted_and_refund_limits"
_MAPPINGS = "tests/payments/test_offline.py::test_integration_mappings_and_held_customer_credit"
_CARD = "tests/payments/test_stripe.py::test_card_payment_decline_refund_and_idempotency"
_CHECKOUT = "tests/payments/test_stripe.py::test_checkout_session_completes_when_the_customer_pays"
HONOURED["flexprice:credit_notes.create_credit_note"]["refund_target"] = _OFFLINE
HONOURED["flexprice:payments.create_payment"] = {
    **{
        name: _OFFLINE
        for name in (
            "amount",
            "currency",
            "destination_id",
            "destination_type",
            "payment_method_type",
            "idempotency_key",
            "metadata",
        )
    },
    "process_payment": _PENDING,
    "payment_gateway": _CARD,
    "payment_method_id": _CARD,
}
HONOURED["flexprice:payments.update_payment"] = {
    name: _PENDING
    for name in ("error_message", "gateway_tracking_id", "metadata", "payment_status")
}
HONOURED["flexprice:checkout.create_checkout_session"] = {
    name: _CHECKOUT
    for name in (
        "action",
        "customer_external_id",
        "payment_provider",
        "cancel_url",
        "configuration",
        "failure_url",
        "idempotency_key",
        "metadata",
        "success_url",
    )
}
HONOURED["flexprice:integrations.link_integration_mapping"] = {
    name: _MAPPINGS
    for name in ("entity_id", "entity_type", "provider_entity_id", "provider_type", "metadata")
}
HONOURED["flexprice:integrations.delink_integration_mapping"] = {
    name: _MAPPINGS for name in ("entity_id", "entity_type", "provider_type")
}


_ACTIVITY = "tests/exports/test_activity.py::test_writes_are_logged_with_actor_entity_and_diff"
HONOURED["flexprice:activity.list_activity"] = {
    name: _ACTIVITY
    for name in (
        "actions",
        "actor_id",
        "actor_types",
        "cursor",
        "customer_id",
        "end_time",
        "entity_id",
        "entity_type",
        "limit",
        "request_id",
        "start_time",
    )
}
_EXPORTS = "tests/exports/test_tasks.py::test_an_event_export_streams_its_range_as_csv_and_ndjson"
HONOURED["flexprice:tasks.create_task"] = {
    name: _EXPORTS
    for name in (
        "entity_type",
        "file_name",
        "file_provider",
        "file_type",
        "metadata",
        "task_type",
        "upload_id",
    )
}
HONOURED["flexprice:tasks.update_task_status"] = {"task_status": _EXPORTS}
_SCHEDULES = (
    "tests/exports/test_schedules.py::test_each_window_of_a_schedule_is_exported_exactly_once"
)
HONOURED["flexprice:scheduled_tasks.create_scheduled_task"] = {
    name: _SCHEDULES
    for name in ("connection_id", "enabled", "entity_type", "interval", "job_config")
}
HONOURED["flexprice:scheduled_tasks.update_scheduled_task"] = {"enabled": _SCHEDULES}
HONOURED["flexprice:scheduled_tasks.trigger_scheduled_task_run"] = {
    "end_time": _SCHEDULES,
    "start_time": _SCHEDULES,
}

# Price units, exchange rates, groups and the invoice edits (issue 16).
_UNITS = "tests/pricing/test_price_units.py::test_price_units_crud_lookup_and_search"
_UNIT_PRICES = (
    "tests/pricing/test_price_units.py::"
    "test_prices_in_a_price_unit_are_billed_converted_and_rounded_once_per_line"
)
_FX = "tests/pricing/test_price_units.py::test_fx_rates_crud_query_and_bounds"
_GROUPS = "tests/pricing/test_groups.py::test_groups_members_search_delete_and_invoice_lines"
_EDITS = (
    "tests/invoicing/test_invoice_operations.py::test_edit_recalculate_send_summarize_and_replace"
)
HONOURED["flexprice:price_units.create_price_unit"] = {
    name: _UNITS
    for name in ("base_currency", "code", "conversion_rate", "metadata", "name", "symbol")
}
HONOURED["flexprice:price_units.update_price_unit"] = {"metadata": _UNITS, "name": _UNITS}
HONOURED["flexprice:prices.create_price"] |= {
    "price_unit_config": _UNIT_PRICES,
    "group_id": _GROUPS,
}
HONOURED["flexprice:fx_rates.create_fx_rate"] = {
    name: _FX
    for name in (
        "end_date",
        "from_currency",
        "metadata",
        "rate",
        "scope",
        "scope_id",
        "source",
        "start_date",
        "to_currency",
    )
}
HONOURED["flexprice:fx_rates.update_fx_rate"] = {
    name: _FX for name in ("end_date", "metadata", "rate", "start_date")
}
HONOURED["flexprice:groups.create_group"] = {
    name: _GROUPS for name in ("entity_type", "lookup_key", "name")
}
HONOURED["flexprice:features.create_feature"]["group_id"] = _GROUPS
HONOURED["flexprice:features.update_feature"]["group_id"] = _GROUPS
HONOURED["flexprice:invoices.execute_invoice_modify"] = {
    "line_item_params": _EDITS,
    "type": _EDITS,
}


def operations() -> list[tuple[sdk_fields.SdkOperation, sdk_fields.AppOperation]]:
    return [(op, app) for op, app in sdk_fields.served() if not FILTERS.search(op.path)]


def refused_cases() -> list[Any]:
    return [
        pytest.param(op, name, id=f"{op.sdk}:{op.name}:{name}")
        for op, app in operations()
        for name in sorted(set(op.fields) & app.unsupported)
    ]


def op_id(op: sdk_fields.SdkOperation) -> str:
    return f"{op.sdk}:{op.name}"


def test_the_inventory_sees_both_sdks() -> None:
    sdks = {op.sdk for op, _ in operations()}
    assert sdks == {"flexprice", "kaiten"}
    assert len(operations()) >= 40


def test_every_sdk_field_is_honoured_or_refused() -> None:
    problems = []
    for op, app in operations():
        honoured = set(HONOURED.get(op_id(op), {}))
        for name in op.fields:
            refused = name in app.unsupported
            if refused == (name in honoured):
                state = "both honoured and refused" if refused else "neither honoured nor refused"
                problems.append(f"{op_id(op)} ({op.key}) {name}: {state}")
    assert problems == []


def test_honoured_fields_are_modelled() -> None:
    """A field the body model does not declare is ignored: it cannot be honoured."""
    problems = [
        f"{op_id(op)} {name}"
        for op, app in operations()
        for name in HONOURED.get(op_id(op), {})
        if name not in app.defined
    ]
    assert problems == []


def test_the_tables_name_only_sdk_fields() -> None:
    fields = {op_id(op): set(op.fields) for op, _ in operations()}
    stale = [
        f"{key} {name}"
        for key, names in HONOURED.items()
        for name in names
        if name not in fields.get(key, set())
    ]
    assert stale == []


def _snake(name: str) -> str:
    return re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), name)


@functools.cache
def _test_functions(path: str) -> dict[str, str]:
    """The test functions of a module, by name, each with its own source text."""
    source = (ROOT / path).read_text()
    return {
        node.name: ast.get_source_segment(source, node) or ""
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
    }


def test_each_named_test_exists_and_sends_its_field() -> None:
    """The named test function itself (not just its module) names the field it covers."""
    problems = []
    for key, names in HONOURED.items():
        for name, ref in names.items():
            path, _, function = ref.partition("::")
            functions = _test_functions(path)
            if function not in functions:
                problems.append(f"{key} {name}: no test {ref}")
            elif not re.search(rf"\b({name}|{_snake(name)})\b", functions[function]):
                problems.append(f"{key} {name}: {ref} never mentions it")
    assert problems == []


@pytest.fixture(scope="module")
def probe_tenant(server: Server) -> Tenant:
    """One tenant for every refusal probe (a refusal writes nothing); the wire layer is the
    same on the ClickHouse event store."""
    skip_clickhouse(server)
    return new_tenant(server)


@pytest.mark.parametrize(("op", "name"), refused_cases())
def test_a_refused_field_is_refused_by_name(
    probe_tenant: Tenant, op: sdk_fields.SdkOperation, name: str
) -> None:
    """The field alone, with a type-valid sample value, is refused before anything else."""
    tenant = probe_tenant
    path = op.path.replace("{}", "no-such-id")
    headers = {"x-api-key": tenant.key, "Authorization": f"Bearer {tenant.key}"}
    with httpx.Client(base_url=tenant.server.base_url, headers=headers, timeout=30) as client:
        response = client.request(op.method, path, json={name: op.fields[name]})
    body = response.json()
    if op.sdk == "flexprice":
        assert response.status_code == 400, response.text
        assert body["code"] == "validation_error" and body["http_status_code"] == 400
        assert body["message"] == f"{name} is not supported by this server"
        assert body["details"]["field"] == name
    else:
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert body["detail"] == f"{name} is not supported by this server"
        assert body["errors"][0]["location"] == f"body.{name}"


def test_refusal_through_the_sdk_writes_nothing(tenant: Tenant) -> None:
    from flexprice.models import errors

    with tenant.flexprice() as fp:
        customer = fp.customers.create_customer(external_id="inv-sdk", name="Inv")
        before = fp.subscriptions.query_subscription(customer_id=customer.id).items
        with pytest.raises(errors.ErrorResponse) as caught:
            fp.subscriptions.create_subscription(
                customer_id=customer.id,
                plan_id="plan_none",
                currency="usd",
                billing_period="MONTHLY",
                commitment_amount="100",
                overage_factor="1.5",
            )
        assert caught.value.raw_response.status_code == 400
        assert "commitment_amount, overage_factor are not supported" in caught.value.message
        assert fp.subscriptions.query_subscription(customer_id=customer.id).items == before


def test_empty_values_and_unknown_members_pass(tenant: Tenant) -> None:
    """null, "", [], {} and false mean "not used"; members no SDK defines are ignored."""
    with tenant.client() as http:
        response = http.post(
            "/v1/customers",
            json={
                "external_id": "inv-empty",
                "name": "Empty",
                "tax_treatment": None,
                "contact_persons": [],
                "tax_rate_overrides": [],
                "onboarding_workflow_name": "",
                "skip_onboarding_workflow": False,
                "no_client_defines_this": 1,
            },
        )
        assert response.status_code == 201, response.text


def test_a_refused_field_inside_a_bulk_item_is_refused(tenant: Tenant) -> None:
    with tenant.client() as http:
        response = http.post("/v1/prices/bulk", json={"items": [{"filter_values": {"a": ["b"]}}]})
    assert response.status_code == 400, response.text
    assert response.json()["details"]["field"] == "filter_values"


def test_the_refused_fields_doc_is_up_to_date() -> None:
    assert DOC.read_text() == sdk_fields.markdown(), (
        "run: PYTHONPATH=src python -m tests.api.sdk_fields --markdown > docs/wire-fields.md"
    )


_SCHEDULES = "tests/subscriptions/test_scheduled_changes.py"
HONOURED["flexprice:subscriptions.cancel_subscription_schedule"] = {
    name: f"{_SCHEDULES}::test_a_schedule_cancelled_before_the_boundary_changes_nothing"
    for name in ("schedule_id", "schedule_type", "subscription_id")
}
HONOURED["flexprice:subscriptions.execute_subscription_plan_change_v2"]["on_conflict_policies"] = (
    f"{_SCHEDULES}::test_an_upgrade_at_period_end_with_v2_and_a_superseded_schedule"
)
HONOURED["flexprice:subscriptions.preview_subscription_plan_change_v2"]["on_conflict_policies"] = (
    f"{_SCHEDULES}::test_bad_schedule_requests_are_refused"
)
# Add-ons: the catalog, bought by subscriptions (tests/addons/test_addons.py).
_ADDON_CATALOG = "tests/addons/test_addons.py::test_the_addon_catalog_through_the_sdk"
_ADDON_BILLING = (
    "tests/addons/test_addons.py::test_addons_added_and_removed_mid_period_are_billed_to_the_day"
)
_ADDON_GRANTS = "tests/addons/test_addons.py::test_addon_entitlements_count_while_the_addon_is_on"
_ADDON_REFUSALS = "tests/addons/test_addons.py::test_bad_addon_requests_are_refused_with_the_reason"
HONOURED["flexprice:addons.create_addon"] = {
    name: _ADDON_CATALOG for name in ("description", "lookup_key", "metadata", "name")
}
HONOURED["flexprice:addons.update_addon"] = {
    name: _ADDON_CATALOG for name in ("description", "metadata", "name")
}
HONOURED["flexprice:subscriptions.add_subscription_addon"] = {
    name: _ADDON_BILLING
    for name in (
        "addon_id",
        "cadence",
        "metadata",
        "override_line_items",
        "proration_behavior",
        "start_date",
        "subscription_id",
    )
} | {"change_at": _ADDON_REFUSALS}
HONOURED["flexprice:subscriptions.remove_subscription_addon"] = {
    name: _ADDON_BILLING
    for name in ("addon_association_id", "effective_date", "proration_behavior", "reason")
} | {"change_at": _ADDON_GRANTS}
HONOURED["flexprice:credit_grants.create_credit_grant"] |= {
    "addon_id": "tests/addons/test_addon_credits.py::"
    "test_an_addon_grant_credits_the_subscriptions_that_have_the_addon"
}
# Cost sheets and cost analytics (tests/api/flexprice/test_costs.py).
_COSTSHEETS = "tests/api/flexprice/test_costs.py::test_costsheet_lifecycle_prices_search_and_active"
_COST_ANALYTICS = (
    "tests/api/flexprice/test_costs.py::test_cost_analytics_cost_revenue_margin_and_roi"
)
for _op in ("create_costsheet", "update_costsheet"):
    HONOURED[f"flexprice:costs.{_op}"] = {
        name: _COSTSHEETS for name in ("description", "lookup_key", "metadata", "name")
    }
HONOURED["flexprice:costs.get_detailed_cost_analytics"] = {
    name: _COST_ANALYTICS
    for name in (
        "end_time",
        "expand",
        "external_customer_id",
        "feature_ids",
        "limit",
        "offset",
        "start_time",
    )
}
# Analytics reports, views and the ad-hoc query (tests/api/flexprice/test_reports.py).
_REPORTS = "tests/api/flexprice/test_reports.py::test_reports_read_the_revenue_facts"
_VIEWS = "tests/api/flexprice/test_reports.py::test_saved_views_are_stored_listed_replaced_run_and_deleted"
HONOURED["flexprice:analytics.run_analytics_report"] = {
    name: _REPORTS
    for name in ("currency", "dimensions", "filters", "grain", "limit", "range", "shape", "sort")
}
for _op in ("create_analytics_view", "update_analytics_view"):
    HONOURED[f"flexprice:analytics.{_op}"] = {"definition": _VIEWS, "name": _VIEWS}
HONOURED["flexprice:analytics.query_analytics"] = {"definition": _VIEWS}
