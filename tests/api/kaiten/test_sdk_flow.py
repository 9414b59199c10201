"""The whole licensing flow driven by the official kaitencloud SDK over real HTTP (§8)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from kaitencloud import (
    UNLIMITED,
    BadRequestError,
    ConflictError,
    KaitenClient,
    NotFoundError,
    ThresholdExceededError,
)

START = datetime(2026, 1, 1, tzinfo=UTC)
END = datetime(2030, 1, 1, tzinfo=UTC)


def _setup(kaiten: KaitenClient) -> None:
    kaiten.entitlements.create(name="Seats", slug="seats", type="NUMBER", aggregation_method="SUM")
    kaiten.entitlements.create(name="SSO", slug="sso", type="BOOLEAN")
    kaiten.entitlements.create(
        name="API calls",
        slug="api-calls",
        type="NUMBER",
        reset_period="MONTH",
        reset_anchor="CALENDAR",
    )
    kaiten.licenses.create(name="Growth", slug="growth", type="PAID")
    kaiten.licenses.associate_entitlement("growth", "seats", 5, overage_percent=20)
    kaiten.licenses.associate_entitlement("growth", "sso", True)
    kaiten.licenses.associate_entitlement("growth", "api-calls", UNLIMITED)
    customer = kaiten.customers.create(name="Acme", slug="acme", domain="acme.com")
    license_ = kaiten.licenses.get("growth")
    kaiten.instances.create(
        name="Acme prod",
        slug="acme-prod",
        customer_id=customer.id,
        license_id=license_.id,
        start_license_date=START,
        end_license_date=END,
    )


def test_lists_start_empty(kaiten: KaitenClient) -> None:
    assert kaiten.customers.list() == []
    assert kaiten.instances.list() == []
    assert kaiten.licenses.list() == []
    assert kaiten.entitlements.list() == []


def test_catalog_licenses_grants_customers_instances(kaiten: KaitenClient) -> None:
    _setup(kaiten)
    seats = kaiten.entitlements.get("seats")
    assert (seats.type, seats.aggregation_method, seats.reset_period) == ("NUMBER", "SUM", None)
    calls = kaiten.entitlements.get("api-calls")
    assert (calls.reset_period, calls.reset_anchor) == ("MONTH", "CALENDAR")
    assert [e.slug for e in kaiten.entitlements.list()] == ["seats", "sso", "api-calls"]

    growth = kaiten.licenses.get("growth")
    assert (growth.version, growth.is_default, growth.lifecycle_state) == ("1", False, "PUBLISHED")
    grant = kaiten.licenses.get_entitlement("growth", "seats")
    assert grant.limit_cap_exceeded_overage_percent == 20
    assert grant.value.value == 5
    grants = {g.entitlement_slug: g for g in kaiten.licenses.list_entitlements("growth")}
    assert set(grants) == {"seats", "sso", "api-calls"}
    assert grants["api-calls"].limit_cap_exceeded_overage_percent == -1
    assert grants["api-calls"].value.value == -1
    assert grants["sso"].value.value is True
    assert grants["sso"].limit_cap_exceeded_overage_percent is None

    instance = kaiten.instances.get("acme-prod")
    assert (instance.customer_slug, instance.license_slug) == ("acme", "growth")
    assert instance.start_license_date == START
    kaiten.instances.update_status("acme-prod", "DEGRADED")
    kaiten.instances.update_lifecycle_stage("acme-prod", "TRIAL")
    again = kaiten.instances.get("acme-prod")
    assert (again.status, again.lifecycle_stage) == ("DEGRADED", "TRIAL")
    assert [c.slug for c in kaiten.customers.list()] == ["acme"]


def test_usage_append_set_threshold_boolean_and_list(kaiten: KaitenClient) -> None:
    _setup(kaiten)
    first = kaiten.instances.get_usage("acme-prod", "seats")
    assert first.value.value == 0
    assert not first.value.event_count
    assert first.limit is not None and first.limit.value == 5
    assert first.current_period_start is None

    for expected in range(1, 7):  # 6 ≤ 5 · 1.2
        reported = kaiten.instances.report_usage("acme-prod", "seats", 1)
        assert (reported.value.value, reported.value.event_count) == (expected, expected)
    with pytest.raises(ThresholdExceededError) as refused:
        kaiten.instances.report_usage("acme-prod", "seats", 1)
    assert refused.value.status_code == 409
    assert refused.value.code == "ReportEntitlementUsageMetric.ThresholdExceeded"
    assert kaiten.instances.get_usage("acme-prod", "seats").value.value == 6

    corrected = kaiten.instances.report_usage("acme-prod", "seats", 2, behavior="set")
    assert (corrected.value.value, corrected.value.event_count) == (2, 1)
    with_meta = kaiten.instances.report_usage("acme-prod", "seats", 1, metadata={"k": "v"})
    assert with_meta.value.value == 3
    assert with_meta.model_extra is not None
    assert with_meta.model_extra["metadata"] == {"k": "v"}
    assert with_meta.model_extra["behavior"] == "append"

    sso = kaiten.instances.get_usage("acme-prod", "sso")
    assert (sso.value.type, sso.value.value) == ("boolean", True)
    with pytest.raises(BadRequestError) as unsupported:
        kaiten.instances.report_usage("acme-prod", "sso", 1)
    assert unsupported.value.code == "ReportEntitlementUsageMetric.UnsupportedEntitlementType"

    calls = kaiten.instances.report_usage("acme-prod", "api-calls", 10**6)
    assert calls.value.value == 10**6
    now = datetime.now(UTC)
    month_start = datetime(now.year, now.month, 1, tzinfo=UTC)
    next_month = datetime(now.year + now.month // 12, now.month % 12 + 1, 1, tzinfo=UTC)
    assert (calls.current_period_start, calls.current_period_end) == (month_start, next_month)
    assert calls.limit is not None and calls.limit.value == -1

    rows = {u.entitlement_slug: u for u in kaiten.instances.list_usage("acme-prod")}
    assert set(rows) == {"seats", "sso", "api-calls"}
    assert rows["seats"].value.value == 3
    assert rows["api-calls"].value.value == 10**6
    assert rows["sso"].value.value is True


def test_not_found_errors_carry_codes(kaiten: KaitenClient) -> None:
    _setup(kaiten)
    with pytest.raises(NotFoundError) as missing_entitlement:
        kaiten.instances.get_usage("acme-prod", "nope")
    problem = missing_entitlement.value
    assert problem.code == "GetEntitlementUsageMetrics.EntitlementNotFound"
    assert problem.title == "Not Found"
    assert problem.status_code == 404
    with pytest.raises(NotFoundError) as missing_instance:
        kaiten.instances.get_usage("missing", "seats")
    assert missing_instance.value.code == "GetEntitlementUsageMetrics.InstanceNotFound"
    kaiten.entitlements.create(name="Storage", slug="storage", type="NUMBER")
    with pytest.raises(NotFoundError) as unassigned:
        kaiten.instances.get_usage("acme-prod", "storage")
    assert unassigned.value.code == "GetEntitlementUsageMetrics.EntitlementNotAssigned"
    with pytest.raises(NotFoundError) as report_missing:
        kaiten.instances.report_usage("acme-prod", "storage", 1)
    assert report_missing.value.code == "ReportEntitlementUsageMetric.ContextNotFound"
    with pytest.raises(ConflictError):
        kaiten.licenses.associate_entitlement("growth", "seats", 3)


def test_license_lifecycle_families_and_versions(kaiten: KaitenClient) -> None:
    v1 = kaiten.licenses.create(name="Pro", slug="pro", type="PAID", is_default=True)
    v2 = kaiten.licenses.create(name="Pro", type="PAID", family_slug="pro", lifecycle_state="DRAFT")
    assert (v2.slug, v2.version, v2.lifecycle_state) == ("pro-v2", "2", "DRAFT")
    family = kaiten.license_families.get("pro")
    assert family.version_count == 2
    assert family.current_version is not None and family.current_version.id == v1.id

    with pytest.raises(ConflictError) as default_archive:
        kaiten.licenses.archive("pro")
    assert default_archive.value.code == "ArchiveLicense.DefaultMustBePublished"
    with pytest.raises(ConflictError) as not_draft:
        kaiten.licenses.publish("pro")
    assert not_draft.value.code == "PublishLicense.NotADraft"
    assert kaiten.licenses.publish("pro-v2").lifecycle_state == "PUBLISHED"
    kaiten.licenses.update("pro-v2", name="Pro", type="PAID", is_default=True)
    assert kaiten.licenses.get("pro").is_default is False
    assert kaiten.license_families.get("pro").current_version.slug == "pro-v2"  # type: ignore[union-attr]
    assert kaiten.licenses.archive("pro").lifecycle_state == "ARCHIVED"
    with pytest.raises(ConflictError) as not_archived:
        kaiten.licenses.unarchive("pro-v2")
    assert not_archived.value.code == "UnarchiveLicense.NotArchived"

    customer = kaiten.customers.create(name="Beta Co")
    with pytest.raises(ConflictError) as archived:
        kaiten.instances.create(
            name="beta",
            customer_id=customer.id,
            license_id=v1.id,
            start_license_date=START,
            end_license_date=END,
        )
    assert archived.value.code == "CreateInstance.LicenseArchived"
    assert kaiten.licenses.unarchive("pro").lifecycle_state == "PUBLISHED"
    pinned = kaiten.license_families.get("pro", version=1, include_versions=True)
    assert pinned.current_version.slug == "pro"  # type: ignore[union-attr]
    assert [v.version for v in pinned.versions or []] == ["1", "2"]


def test_deletes_answer_no_content(kaiten: KaitenClient) -> None:
    _setup(kaiten)
    kaiten.instances.delete("acme-prod")
    with pytest.raises(NotFoundError):
        kaiten.instances.get("acme-prod")
    kaiten.licenses.delete_entitlement("growth", "sso")
    assert len(kaiten.licenses.list_entitlements("growth")) == 2
    kaiten.customers.delete("acme")
    assert kaiten.customers.list() == []
