"""Every licensing rule's refusal as Kaiten words it: status, code, detail and locations.

The licensing domain raises errors naming a resource or a reason; ``api/kaiten/vocabulary``
turns them into Kaiten's operation codes, camelCase fields and messages. This table pins
each answer byte for byte, so that a rule moved or reworded in the domain cannot change
the wire.
"""

from __future__ import annotations

from typing import Any

import httpx

START = "2026-01-01T00:00:00Z"
END = "2036-01-01T00:00:00Z"
NUM = {"type": "number", "value": 5}


def _entitlement(slug: str, **extra: Any) -> dict[str, Any]:
    return {"name": slug, "slug": slug, "description": None, **extra}


def _replacement(name: str, **extra: Any) -> dict[str, Any]:
    """A PUT body: the fields without the slug."""
    return {"name": name, "description": None, **extra}


def _ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code in (200, 201, 204), response.text
    return response.json() if response.content else {}


def _setup(api: httpx.Client) -> dict[str, str]:
    """num (NUMBER) and flag (BOOLEAN) granted by the default license lic; other (BOOLEAN)
    granted by nothing; group grp holding num; a draft license draft in its own family; an
    archived license old; customer cust running instance inst under lic."""
    _ok(api.post("/entitlement-groups", json={"name": "grp", "slug": "grp", "description": None}))
    _ok(api.post("/entitlements", json=_entitlement("num", groupSlugs=["grp"])))
    _ok(api.post("/entitlements", json=_entitlement("flag", type="BOOLEAN")))
    _ok(api.post("/entitlements", json=_entitlement("other", type="BOOLEAN")))
    lic = _ok(api.post("/licenses", json={"name": "lic", "slug": "lic", "type": "PAID"}))
    _ok(api.put("/licenses/lic", json={"name": "lic", "type": "PAID", "isDefault": True}))
    _ok(api.post("/licenses/lic/entitlements", json={"entitlementSlug": "num", "value": NUM}))
    flag = {"entitlementSlug": "flag", "value": {"type": "boolean", "value": True}}
    _ok(api.post("/licenses/lic/entitlements", json=flag))
    draft = {"name": "draft", "slug": "draft", "type": "PAID", "lifecycleState": "DRAFT"}
    draft_family = _ok(api.post("/licenses", json=draft))["familyId"]
    old = _ok(api.post("/licenses", json={"name": "old", "slug": "old", "type": "PAID"}))
    _ok(api.post("/licenses/old/archive"))
    customer = _ok(api.post("/customers", json={"name": "cust", "slug": "cust"}))
    instance = {
        "name": "inst",
        "slug": "inst",
        "customerId": customer["id"],
        "licenseId": lic["id"],
        "startLicenseDate": START,
        "endLicenseDate": END,
    }
    _ok(api.post("/instances", json=instance))
    once = {"value": NUM, "transactionId": "tx-1"}
    _ok(api.post("/instances/inst/entitlements/num/usage", json=once))
    return {
        "customer": customer["id"],
        "lic": lic["id"],
        "old": old["id"],
        "draft_family": draft_family,
    }


def _cases(ids: dict[str, str]) -> list[tuple[str, str, Any, int, str, str, list[str]]]:
    """(method, path, body, status, code, detail, error locations)."""
    lic_body = {"name": "x", "type": "PAID"}
    group_body = {"name": "x", "description": None}
    customer_body = {"name": "x"}
    inst = {
        "name": "x",
        "customerId": ids["customer"],
        "licenseId": ids["lic"],
        "startLicenseDate": START,
        "endLicenseDate": END,
    }
    grant = {"value": NUM}
    bad_ent = "Entitlement with ID nope was not found"
    bad_lic = "License with ID nope was not found"
    bad_group = "Entitlement group with ID nope was not found"
    bad_customer = "Customer with ID nope was not found"
    bad_instance = "Instance with ID nope was not found"
    unp = "UNPROCESSABLE"
    usage = "/instances/{}/entitlements/{}/usage"
    return [
        # the catalog
        ("GET", "/entitlements/nope", None, 404, "GetEntitlement.NotFound", bad_ent, []),
        (
            "PUT",
            "/entitlements/nope",
            _replacement("x"),
            404,
            "GetEntitlement.NotFound",
            bad_ent,
            [],
        ),
        ("DELETE", "/entitlements/nope", None, 404, "GetEntitlement.NotFound", bad_ent, []),
        (
            "DELETE",
            "/entitlements/num",
            None,
            409,
            "DeleteEntitlement.InUse",
            "The entitlement num is granted; remove its grants first",
            [],
        ),
        (
            "POST",
            "/entitlements",
            _entitlement("yy", groupSlugs=["nope"]),
            404,
            "EntitlementGroup.NotFound",
            bad_group,
            [],
        ),
        (
            "PUT",
            "/entitlements/num",
            _replacement("num", groupSlugs=["nope"]),
            404,
            "EntitlementGroup.NotFound",
            bad_group,
            [],
        ),
        (
            "POST",
            "/entitlements",
            _entitlement("num"),
            409,
            "CONFLICT",
            "An entitlement with the slug num already exists",
            [],
        ),
        (
            "POST",
            "/entitlements",
            _entitlement("yy", type="BOOLEAN", aggregationMethod="SUM"),
            422,
            unp,
            "aggregationMethod, resetPeriod and resetAnchor apply to NUMBER entitlements",
            ["body.aggregationMethod"],
        ),
        (
            "POST",
            "/entitlements",
            _entitlement("yy", type="CONFIG", resetPeriod="DAY"),
            422,
            unp,
            "aggregationMethod, resetPeriod and resetAnchor apply to NUMBER entitlements",
            ["body.resetPeriod"],
        ),
        (
            "POST",
            "/entitlements",
            _entitlement("yy", resetAnchor="CALENDAR"),
            422,
            unp,
            "resetAnchor needs a resetPeriod",
            ["body.resetAnchor"],
        ),
        (
            "POST",
            "/entitlements",
            _entitlement("yy", saleUnitSingular="pack"),
            422,
            unp,
            "saleUnitSingular, saleUnitPlural and saleUnitFactor are set together",
            ["body.saleUnitFactor"],
        ),
        (
            "POST",
            "/entitlements",
            _entitlement("yy", saleUnitSingular="pack", saleUnitPlural="packs", saleUnitFactor=10),
            422,
            unp,
            "a sale unit needs the base unit labels",
            ["body.unitSingular"],
        ),
        (
            "PUT",
            "/entitlements/num",
            _replacement("num", type="BOOLEAN"),
            422,
            unp,
            "type cannot be changed once set",
            ["body.type"],
        ),
        (
            "PUT",
            "/entitlements/num",
            _replacement("num", aggregationMethod="MAX"),
            422,
            unp,
            "aggregationMethod cannot be changed once set",
            ["body.aggregationMethod"],
        ),
        (
            "PUT",
            "/entitlements/num",
            _replacement("num", resetPeriod="DAY"),
            422,
            unp,
            "resetPeriod cannot be changed once set",
            ["body.resetPeriod"],
        ),
        (
            "PUT",
            "/entitlements/num",
            _replacement("num", resetAnchor="CALENDAR"),
            422,
            unp,
            "resetAnchor cannot be changed once set",
            ["body.resetAnchor"],
        ),
        (
            "PUT",
            "/entitlements/num",
            _replacement("num", unitSingular="seat"),
            422,
            unp,
            "unitSingular and unitPlural are set together",
            ["body.unitPlural"],
        ),
        # groups
        (
            "GET",
            "/entitlement-groups/nope",
            None,
            404,
            "GetEntitlementGroup.NotFound",
            bad_group,
            [],
        ),
        (
            "PUT",
            "/entitlement-groups/nope",
            group_body,
            404,
            "GetEntitlementGroup.NotFound",
            bad_group,
            [],
        ),
        (
            "DELETE",
            "/entitlement-groups/nope",
            None,
            404,
            "GetEntitlementGroup.NotFound",
            bad_group,
            [],
        ),
        (
            "POST",
            "/entitlement-groups/nope/entitlements",
            {"entitlementSlug": "num"},
            404,
            "GetEntitlementGroup.NotFound",
            bad_group,
            [],
        ),
        (
            "POST",
            "/entitlement-groups/grp/entitlements",
            {"entitlementSlug": "nope"},
            404,
            "GetEntitlement.NotFound",
            bad_ent,
            [],
        ),
        (
            "DELETE",
            "/entitlement-groups/grp/entitlements/nope",
            None,
            404,
            "GetEntitlement.NotFound",
            bad_ent,
            [],
        ),
        (
            "DELETE",
            "/entitlement-groups/grp/entitlements/flag",
            None,
            404,
            "RemoveEntitlementFromGroup.NotFound",
            "Group member with ID flag was not found",
            [],
        ),
        (
            "GET",
            "/entitlement-groups/nope/usage?instance=inst",
            None,
            404,
            "GetEntitlementGroup.NotFound",
            bad_group,
            [],
        ),
        (
            "GET",
            "/entitlement-groups/grp/usage?instance=nope",
            None,
            404,
            "GetEntitlementsUsageMetrics.InstanceNotFound",
            bad_instance,
            [],
        ),
        # licenses and their lifecycle
        (
            "POST",
            "/licenses",
            {**lic_body, "familySlug": "nope"},
            404,
            "CreateLicense.FamilyNotFound",
            "License family with ID nope was not found",
            [],
        ),
        (
            "POST",
            "/licenses",
            {**lic_body, "isDefault": True, "lifecycleState": "DRAFT"},
            409,
            "CreateLicense.DefaultMustBePublished",
            "Only a published version can be the default",
            [],
        ),
        (
            "POST",
            "/licenses",
            {**lic_body, "familySlug": "lic", "familyId": ids["draft_family"]},
            422,
            unp,
            "familySlug and familyId name different families",
            ["body.familyId"],
        ),
        ("GET", "/licenses/nope", None, 404, "GetLicense.NotFound", bad_lic, []),
        ("PUT", "/licenses/nope", lic_body, 404, "UpdateLicense.NotFound", bad_lic, []),
        ("DELETE", "/licenses/nope", None, 404, "DeleteLicense.NotFound", bad_lic, []),
        ("POST", "/licenses/nope/publish", None, 404, "PublishLicense.NotFound", bad_lic, []),
        ("POST", "/licenses/nope/archive", None, 404, "ArchiveLicense.NotFound", bad_lic, []),
        ("POST", "/licenses/nope/unarchive", None, 404, "UnarchiveLicense.NotFound", bad_lic, []),
        (
            "PUT",
            "/licenses/draft",
            {**lic_body, "isDefault": True},
            409,
            "UpdateLicense.DefaultMustBePublished",
            "Only a published version can be the default",
            [],
        ),
        (
            "POST",
            "/licenses/lic/publish",
            None,
            409,
            "PublishLicense.NotADraft",
            "The license lic is PUBLISHED, not DRAFT",
            [],
        ),
        (
            "POST",
            "/licenses/draft/archive",
            None,
            409,
            "ArchiveLicense.NotPublished",
            "The license draft is DRAFT, not PUBLISHED",
            [],
        ),
        (
            "POST",
            "/licenses/lic/archive",
            None,
            409,
            "ArchiveLicense.DefaultMustBePublished",
            "The family's default version cannot be archived; unset the default first",
            [],
        ),
        (
            "POST",
            "/licenses/lic/unarchive",
            None,
            409,
            "UnarchiveLicense.NotArchived",
            "The license lic is PUBLISHED, not ARCHIVED",
            [],
        ),
        (
            "DELETE",
            "/licenses/lic",
            None,
            409,
            "DeleteLicense.InUse",
            "Instances run under the license lic; move them first",
            [],
        ),
        # grants
        (
            "GET",
            "/licenses/nope/entitlements",
            None,
            404,
            "ListLicenseEntitlements.NotFound",
            bad_lic,
            [],
        ),
        (
            "POST",
            "/licenses/nope/entitlements",
            {**grant, "entitlementSlug": "num"},
            404,
            "CreateLicenseEntitlement.NotFound",
            bad_lic,
            [],
        ),
        (
            "POST",
            "/licenses/lic/entitlements",
            {**grant, "entitlementSlug": "nope"},
            404,
            "CreateLicenseEntitlement.EntitlementNotFound",
            bad_ent,
            [],
        ),
        (
            "POST",
            "/licenses/lic/entitlements",
            {**grant, "entitlementSlug": "num"},
            409,
            "CreateLicenseEntitlement.AlreadyExists",
            "The license lic already grants num",
            [],
        ),
        *(
            (
                method,
                "/licenses/nope/entitlements/num",
                body,
                404,
                "GetLicenseEntitlement.NotFound",
                bad_lic,
                [],
            )
            for method, body in (("GET", None), ("PUT", grant), ("DELETE", None))
        ),
        *(
            (
                method,
                "/licenses/lic/entitlements/nope",
                body,
                404,
                "GetEntitlement.NotFound",
                bad_ent,
                [],
            )
            for method, body in (("GET", None), ("PUT", grant), ("DELETE", None))
        ),
        (
            "GET",
            "/licenses/lic/entitlements/other",
            None,
            404,
            "GetLicenseEntitlement.NotFound",
            "License entitlement with ID other was not found",
            [],
        ),
        (
            "POST",
            "/licenses/draft/entitlements",
            {"entitlementSlug": "num", "value": {"type": "boolean", "value": True}},
            422,
            unp,
            "a NUMBER entitlement takes a number value",
            ["body.value.type"],
        ),
        (
            "POST",
            "/licenses/draft/entitlements",
            {"entitlementSlug": "flag", "value": NUM},
            422,
            unp,
            "a BOOLEAN entitlement takes a boolean value",
            ["body.value.type"],
        ),
        (
            "POST",
            "/licenses/draft/entitlements",
            {
                "entitlementSlug": "num",
                "value": {"type": "number", "value": -1},
                "limitCapExceededOveragePercent": 5,
            },
            422,
            unp,
            "an unlimited value (-1) takes limitCapExceededOveragePercent -1",
            ["body.limitCapExceededOveragePercent"],
        ),
        (
            "POST",
            "/licenses/draft/entitlements",
            {"entitlementSlug": "num", "value": NUM, "limitCapExceededOveragePercent": -1},
            422,
            unp,
            "limitCapExceededOveragePercent is -1 only for an unlimited value",
            ["body.limitCapExceededOveragePercent"],
        ),
        (
            "POST",
            "/licenses/draft/entitlements",
            {
                "entitlementSlug": "flag",
                "value": {"type": "boolean", "value": True},
                "limitCapExceededOveragePercent": 0,
            },
            422,
            unp,
            "limitCapExceededOveragePercent applies to NUMBER entitlements, not BOOLEAN",
            ["body.limitCapExceededOveragePercent"],
        ),
        (
            "POST",
            "/licenses/draft/entitlements",
            {"entitlementSlug": "num", "value": {"type": "number", "value": -5}},
            422,
            unp,
            "a number value is -1 (unlimited) or not negative",
            ["body.value.value"],
        ),
        # families
        (
            "GET",
            "/license-families/nope",
            None,
            404,
            "GetLicenseFamily.NotFound",
            "License family with ID nope was not found",
            [],
        ),
        (
            "GET",
            "/license-families/lic?version=99",
            None,
            404,
            "GetLicenseFamily.VersionNotFound",
            "License version with ID 99 was not found",
            [],
        ),
        (
            "GET",
            "/license-families/draft",
            None,
            404,
            "GetLicenseFamily.NoPublishedVersion",
            "Published version of license family with ID draft was not found",
            [],
        ),
        # customers
        ("GET", "/customers/nope", None, 404, "GetCustomer.NotFound", bad_customer, []),
        (
            "PUT",
            "/customers/nope",
            customer_body,
            404,
            "UpdateCustomer.NotFound",
            bad_customer,
            [],
        ),
        ("DELETE", "/customers/nope", None, 404, "DeleteCustomer.NotFound", bad_customer, []),
        (
            "DELETE",
            "/customers/cust",
            None,
            409,
            "DeleteCustomer.HasInstances",
            "The customer cust has instances; delete them first",
            [],
        ),
        # instances
        ("GET", "/instances/nope", None, 404, "GetInstance.NotFound", bad_instance, []),
        ("PUT", "/instances/nope", inst, 404, "UpdateInstance.NotFound", bad_instance, []),
        ("PATCH", "/instances/nope", {}, 404, "PatchInstance.NotFound", bad_instance, []),
        ("DELETE", "/instances/nope", None, 404, "DeleteInstance.NotFound", bad_instance, []),
        (
            "GET",
            "/instances/nope/license-file",
            None,
            404,
            "GetLicenseFile.NotFound",
            bad_instance,
            [],
        ),
        *(
            case
            for method, path, op in (
                ("POST", "/instances", "CreateInstance"),
                ("PUT", "/instances/inst", "UpdateInstance"),
            )
            for case in (
                (
                    method,
                    path,
                    {**inst, "customerId": "nope"},
                    404,
                    f"{op}.CustomerNotFound",
                    bad_customer,
                    [],
                ),
                (
                    method,
                    path,
                    {**inst, "licenseId": "nope"},
                    404,
                    f"{op}.LicenseNotFound",
                    bad_lic,
                    [],
                ),
                (
                    method,
                    path,
                    {**inst, "licenseId": ids["old"]},
                    409,
                    f"{op}.LicenseArchived",
                    "The license old is archived and cannot be assigned",
                    [],
                ),
                (
                    method,
                    path,
                    # A zone that is not one of the environment's is not found.
                    {**inst, "deploymentZoneId": "zone"},
                    404,
                    f"{op}.DeploymentZoneNotFound",
                    "Deployment zone with ID zone was not found",
                    [],
                ),
                (
                    method,
                    path,
                    {**inst, "endLicenseDate": "2025-01-01T00:00:00Z"},
                    422,
                    unp,
                    "endLicenseDate is before startLicenseDate",
                    ["body.endLicenseDate"],
                ),
            )
        ),
        # usage
        (
            "GET",
            "/instances/nope/entitlements/usage",
            None,
            404,
            "GetEntitlementsUsageMetrics.InstanceNotFound",
            bad_instance,
            [],
        ),
        (
            "GET",
            usage.format("nope", "num"),
            None,
            404,
            "GetEntitlementUsageMetrics.InstanceNotFound",
            bad_instance,
            [],
        ),
        (
            "GET",
            usage.format("inst", "nope"),
            None,
            404,
            "GetEntitlementUsageMetrics.EntitlementNotFound",
            bad_ent,
            [],
        ),
        (
            "GET",
            usage.format("inst", "other"),
            None,
            404,
            "GetEntitlementUsageMetrics.EntitlementNotAssigned",
            "Entitlement assignment with ID other was not found",
            [],
        ),
        (
            "POST",
            usage.format("nope", "num"),
            {"value": NUM},
            404,
            "ReportEntitlementUsageMetric.ContextNotFound",
            "Instance or entitlement with ID nope/num was not found",
            [],
        ),
        (
            "POST",
            usage.format("inst", "flag"),
            {"value": NUM},
            400,
            "ReportEntitlementUsageMetric.UnsupportedEntitlementType",
            "Usage can only be reported for NUMBER entitlements, not BOOLEAN",
            [],
        ),
        (
            "POST",
            usage.format("inst", "num"),
            {"value": {"type": "number", "value": 2}, "transactionId": "tx-1"},
            409,
            "ReportEntitlementUsageMetric.TransactionIdReused",
            "transactionId tx-1 was used for another report",
            [],
        ),
        (
            "GET",
            usage.format("inst", "nope") + "/reports",
            None,
            404,
            "NOT_FOUND",
            "Instance or entitlement with ID inst/nope was not found",
            [],
        ),
    ]


def test_every_refusal_keeps_its_kaiten_code_and_words(api: httpx.Client) -> None:
    ids = _setup(api)
    wrong = []
    for method, path, body, status, code, detail, locations in _cases(ids):
        response = api.request(method, path, json=body)
        got = response.json() if response.content else {}
        expected = {"status": status, "code": code, "detail": detail}
        seen = {k: got.get(k) for k in expected}
        seen["status"] = response.status_code
        seen_locations = [e["location"] for e in got.get("errors", [])]
        if seen != expected or seen_locations != locations:
            wrong.append((method, path, seen, seen_locations))
        elif locations:
            # A rule's refusal carries its message at the location too.
            assert [e["message"] for e in got["errors"]] == [detail], (method, path)
    assert not wrong, "\n".join(map(str, wrong))
