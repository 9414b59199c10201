"""The Kaiten dialect's words for licensing errors: operation names, codes, wire field names.

The licensing domain raises ``kernel.errors`` types that name a resource (``NotFound``) or a
reason (``Conflict(reason="in_use")``) in its own words. Kaiten answers with a ``code`` that
names the *operation* too (``DeleteLicense.InUse``), calls fields by their camelCase wire
names and words some messages with them; this module holds all of that, so the domain never
speaks the dialect.

The codes reproduce the upstream server's exactly, quirks included: an operation that looks
another resource up answers with that lookup's code (updating a grant of an unknown
entitlement answers ``GetEntitlement.NotFound``).
"""

from __future__ import annotations

import re
from typing import Any

from starlette.routing import compile_path

from meterline.kernel.errors import DomainError, NotFound

_CUSTOMER_LINK = "/customers/{customerSlug}/integrations/{integrationName}"
_INSTANCE_LINK = "/instances/{instanceSlug}/integrations/{integrationName}"
_RESERVATIONS = "/instances/{instanceSlug}/entitlements/{entitlementSlug}/reservations"

# Kaiten's operations by method and path (under /api), as its OpenAPI document names them.
OPERATIONS: tuple[tuple[str, str, str], ...] = (
    ("GET", "/entitlements", "ListEntitlements"),
    ("POST", "/entitlements", "CreateEntitlement"),
    ("GET", "/entitlements/{entitlementSlug}", "GetEntitlement"),
    ("PUT", "/entitlements/{entitlementSlug}", "UpdateEntitlement"),
    ("DELETE", "/entitlements/{entitlementSlug}", "DeleteEntitlement"),
    ("GET", "/entitlement-groups", "ListEntitlementGroups"),
    ("POST", "/entitlement-groups", "CreateEntitlementGroup"),
    ("GET", "/entitlement-groups/{groupSlug}", "GetEntitlementGroup"),
    ("PUT", "/entitlement-groups/{groupSlug}", "UpdateEntitlementGroup"),
    ("DELETE", "/entitlement-groups/{groupSlug}", "DeleteEntitlementGroup"),
    ("POST", "/entitlement-groups/{groupSlug}/entitlements", "AddEntitlementToGroup"),
    (
        "DELETE",
        "/entitlement-groups/{groupSlug}/entitlements/{entitlementSlug}",
        "RemoveEntitlementFromGroup",
    ),
    ("GET", "/entitlement-groups/{groupSlug}/usage", "GetEntitlementGroupUsageMetrics"),
    ("GET", "/licenses", "ListLicenses"),
    ("POST", "/licenses", "CreateLicense"),
    ("GET", "/licenses/{licenseSlug}", "GetLicense"),
    ("PUT", "/licenses/{licenseSlug}", "UpdateLicense"),
    ("DELETE", "/licenses/{licenseSlug}", "DeleteLicense"),
    ("POST", "/licenses/{licenseSlug}/publish", "PublishLicense"),
    ("POST", "/licenses/{licenseSlug}/archive", "ArchiveLicense"),
    ("POST", "/licenses/{licenseSlug}/unarchive", "UnarchiveLicense"),
    ("GET", "/licenses/{licenseSlug}/entitlements", "ListLicenseEntitlements"),
    ("POST", "/licenses/{licenseSlug}/entitlements", "CreateLicenseEntitlement"),
    ("GET", "/licenses/{licenseSlug}/entitlements/{entitlementSlug}", "GetLicenseEntitlement"),
    ("PUT", "/licenses/{licenseSlug}/entitlements/{entitlementSlug}", "UpdateLicenseEntitlement"),
    (
        "DELETE",
        "/licenses/{licenseSlug}/entitlements/{entitlementSlug}",
        "DeleteLicenseEntitlement",
    ),
    ("GET", "/license-families", "ListLicenseFamilies"),
    ("GET", "/license-families/{familySlug}", "GetLicenseFamily"),
    ("GET", "/customers", "ListCustomers"),
    ("POST", "/customers", "CreateCustomer"),
    ("GET", "/customers/{customerSlug}", "GetCustomer"),
    ("PUT", "/customers/{customerSlug}", "UpdateCustomer"),
    ("DELETE", "/customers/{customerSlug}", "DeleteCustomer"),
    ("GET", "/instances", "ListInstances"),
    ("POST", "/instances", "CreateInstance"),
    ("GET", "/instances/{instanceSlug}", "GetInstance"),
    ("PUT", "/instances/{instanceSlug}", "UpdateInstance"),
    ("PATCH", "/instances/{instanceSlug}", "PatchInstance"),
    ("DELETE", "/instances/{instanceSlug}", "DeleteInstance"),
    ("GET", "/instances/{instanceSlug}/entitlements/usage", "GetEntitlementsUsageMetrics"),
    (
        "GET",
        "/instances/{instanceSlug}/entitlements/{entitlementSlug}/usage",
        "GetEntitlementUsageMetrics",
    ),
    (
        "POST",
        "/instances/{instanceSlug}/entitlements/{entitlementSlug}/usage",
        "ReportEntitlementUsageMetric",
    ),
    ("GET", "/instances/{instanceSlug}/license-file", "GetLicenseFile"),
    ("GET", "/instances/{instanceSlug}/audit-trails", "ListInstanceAuditTrails"),
    ("GET", "/deployment-zones", "ListDeploymentZones"),
    ("POST", "/deployment-zones", "CreateDeploymentZone"),
    ("GET", "/deployment-zones/{deploymentZoneSlug}", "GetDeploymentZone"),
    ("PUT", "/deployment-zones/{deploymentZoneSlug}", "UpdateDeploymentZone"),
    ("DELETE", "/deployment-zones/{deploymentZoneSlug}", "DeleteDeploymentZone"),
    ("GET", "/components", "ListComponents"),
    ("POST", "/components", "CreateComponent"),
    ("GET", "/components/{componentSlug}", "GetComponent"),
    ("PUT", "/components/{componentSlug}", "UpdateComponent"),
    ("DELETE", "/components/{componentSlug}", "DeleteComponent"),
    ("GET", "/releases", "ListReleases"),
    ("POST", "/releases", "CreateRelease"),
    ("GET", "/releases/{releaseSlug}", "GetRelease"),
    ("DELETE", "/releases/{releaseSlug}", "DeleteRelease"),
    ("GET", "/metadata-fields", "ListMetadataFields"),
    ("POST", "/metadata-fields", "CreateMetadataField"),
    ("POST", "/metadata-fields/reorder", "ReorderMetadataFields"),
    ("PATCH", "/metadata-fields/{fieldId}", "UpdateMetadataField"),
    ("POST", "/metadata-fields/{fieldId}/archive", "ArchiveMetadataField"),
    ("POST", "/metadata-fields/{fieldId}/unarchive", "UnarchiveMetadataField"),
    ("POST", "/metadata-fields/{fieldId}/dry-run", "DryRunMetadataField"),
    # Integrations: the contract names no codes for them, so their errors take the status's.
    ("GET", _CUSTOMER_LINK, "GetCustomerIntegration"),
    ("POST", _CUSTOMER_LINK, "CreateCustomerIntegration"),
    ("PUT", _CUSTOMER_LINK, "UpdateCustomerIntegration"),
    ("DELETE", _CUSTOMER_LINK, "DeleteCustomerIntegration"),
    ("GET", _INSTANCE_LINK, "GetInstanceIntegration"),
    ("POST", _INSTANCE_LINK, "CreateInstanceIntegration"),
    ("PUT", _INSTANCE_LINK, "UpdateInstanceIntegration"),
    ("DELETE", _INSTANCE_LINK, "DeleteInstanceIntegration"),
    ("GET", "/integration/{adapter}/customer/{externalId}", "GetIntegrationCustomer"),
    ("PATCH", "/integration/{adapter}/customer/{externalId}", "UpsertIntegrationCustomer"),
    ("GET", "/integration/{adapter}/instance/{externalId}", "GetIntegrationInstance"),
    ("PATCH", "/integration/{adapter}/instance/{externalId}", "UpsertIntegrationInstance"),
    ("GET", "/service-accounts", "ListServiceAccounts"),
    ("POST", "/service-accounts", "CreateServiceAccount"),
    ("GET", "/service-accounts/{serviceAccountSlug}", "GetServiceAccount"),
    ("PUT", "/service-accounts/{serviceAccountSlug}", "UpdateServiceAccount"),
    ("GET", "/service-accounts/{serviceAccountSlug}/tokens", "ListServiceAccountTokens"),
    ("POST", "/service-accounts/{serviceAccountSlug}/tokens", "CreateServiceAccountToken"),
    (
        "DELETE",
        "/service-accounts/{serviceAccountSlug}/tokens/{tokenSlug}",
        "DeleteServiceAccountToken",
    ),
    # The Platform API (its contract's operation ids, in this table's case).
    ("GET", "/platform/me", "GetPlatformMe"),
    ("POST", "/platform/organizations", "EnsureOrganization"),
    ("GET", "/platform/organizations/{orgId}", "GetOrganization"),
    ("DELETE", "/platform/organizations/{orgId}", "DeleteOrganization"),
    ("DELETE", "/platform/organizations/{orgId}/memberships/{userId}", "DeleteMembership"),
    ("GET", "/platform/organizations/{orgId}/tokens", "ListOrganizationTokens"),
    ("POST", "/platform/organizations/{orgId}/tokens", "MintOrganizationToken"),
    ("DELETE", "/platform/organizations/{orgId}/tokens/{tokenSlug}", "RevokeOrganizationToken"),
    ("DELETE", "/platform/users/{id}", "DeleteUser"),
    ("POST", "/platform/connectors", "RegisterConnector"),
    ("GET", "/feature-flags", "ListFeatureFlags"),
    ("POST", "/feature-flags", "CreateFeatureFlag"),
    ("GET", "/feature-flags/{featureFlagSlug}", "GetFeatureFlag"),
    ("PUT", "/feature-flags/{featureFlagSlug}", "UpdateFeatureFlag"),
    ("DELETE", "/feature-flags/{featureFlagSlug}", "DeleteFeatureFlag"),
    ("GET", "/openfeature/v0/manifest", "GetOpenFeatureManifest"),
    ("POST", "/ofrep/v1/evaluate/flags/{flagKey}", "EvaluateFlag"),
    ("GET", "/connectors", "ListConnectors"),
    ("GET", "/connectors/{connectorName}", "GetConnector"),
    ("GET", "/connectors/{connectorName}/state", "GetConnectorState"),
    ("PUT", "/connectors/{connectorName}/activation", "ActivateConnector"),
    ("DELETE", "/connectors/{connectorName}/activation", "DeactivateConnector"),
    ("GET", "/connectors/{connectorName}/settings/schema", "GetConnectorSettingsSchema"),
    ("GET", "/connectors/{connectorName}/settings", "GetConnectorSettings"),
    ("PUT", "/connectors/{connectorName}/settings", "UpdateConnectorSettings"),
    ("DELETE", "/connectors/{connectorName}/settings", "DeleteConnectorSettings"),
    # Meterline's machine licensing (docs/licensing.md), named as Kaiten names operations.
    ("GET", "/licenses/{licenseSlug}/machine-policy", "GetMachinePolicy"),
    ("PUT", "/licenses/{licenseSlug}/machine-policy", "UpdateMachinePolicy"),
    ("GET", "/instances/{instanceSlug}/machines", "ListMachines"),
    ("POST", "/instances/{instanceSlug}/machines", "ActivateMachine"),
    ("GET", "/instances/{instanceSlug}/machines/{machineId}", "GetMachine"),
    ("DELETE", "/instances/{instanceSlug}/machines/{machineId}", "DeactivateMachine"),
    ("POST", "/instances/{instanceSlug}/machines/{machineId}/heartbeat", "MachineHeartbeat"),
    ("PUT", "/instances/{instanceSlug}/suspension", "SuspendInstance"),
    ("DELETE", "/instances/{instanceSlug}/suspension", "ReinstateInstance"),
    ("POST", "/instances/{instanceSlug}/validate", "ValidateInstance"),
    ("GET", "/instances/{instanceSlug}/leases", "ListSeatLeases"),
    ("POST", "/instances/{instanceSlug}/leases", "CheckOutSeat"),
    ("POST", "/instances/{instanceSlug}/leases/{leaseId}/renew", "RenewSeatLease"),
    ("DELETE", "/instances/{instanceSlug}/leases/{leaseId}", "ReleaseSeatLease"),
    ("GET", _RESERVATIONS, "ListReservations"),
    ("POST", _RESERVATIONS, "HoldReservation"),
    ("POST", _RESERVATIONS + "/{reservationId}/settle", "SettleReservation"),
    ("DELETE", _RESERVATIONS + "/{reservationId}", "ReleaseReservation"),
    # License files v2 and offline licensing (docs/licensing.md).
    ("GET", "/.well-known/meterline-license-keys.json", "GetLicenseSigningKeys"),
    ("POST", "/license-files/signing-keys/rotate", "RotateLicenseSigningKey"),
    ("POST", "/license-files/signing-keys/{kid}/retire", "RetireLicenseSigningKey"),
    ("POST", "/instances/{instanceSlug}/license-files", "IssueLicenseFile"),
    ("POST", "/license-files/verify", "VerifyLicenseFile"),
    ("POST", "/offline/activations", "ActivateOffline"),
    ("POST", "/offline/usage-bundles", "ImportUsageBundle"),
)

_MATCHERS: tuple[tuple[str, re.Pattern[str], str], ...] = tuple(
    (method, compile_path("/api" + path)[0], name) for method, path, name in OPERATIONS
)


def operation_of(method: str, path: str) -> str | None:
    """The Kaiten operation ``method path`` (e.g. ``GET /api/licenses/x``) is, if any."""
    for verb, pattern, name in _MATCHERS:
        if verb == method and pattern.match(path):
            return name
    return None


# What the upstream server calls the licensing rules' outcomes, by operation: the key is a
# NotFound's resource, else the error's reason.
_USAGE_NOT_FOUND = {"instance": "GetEntitlementsUsageMetrics.InstanceNotFound"}
_ASSIGN = {
    "customer": "CustomerNotFound",
    "license": "LicenseNotFound",
    "deployment zone": "DeploymentZoneNotFound",
    "license_archived": "LicenseArchived",
}
_GRANT_LOOKUPS = {
    "license": "GetLicenseEntitlement.NotFound",
    "entitlement": "GetEntitlement.NotFound",
    "license entitlement": "GetLicenseEntitlement.NotFound",
}
_GROUP = {"entitlement group": "GetEntitlementGroup.NotFound"}
_GROUP_MEMBER = _GROUP | {"entitlement": "GetEntitlement.NotFound"}
_ENTRY_WRITE = {
    "entitlement": "GetEntitlement.NotFound",
    "entitlement group": "EntitlementGroup.NotFound",
}


def _own(operation: str, suffixes: dict[str, str]) -> dict[str, str]:
    return {key: f"{operation}.{suffix}" for key, suffix in suffixes.items()}


CODES: dict[str, dict[str, str]] = {
    "CreateEntitlement": _ENTRY_WRITE,
    "GetEntitlement": {"entitlement": "GetEntitlement.NotFound"},
    "UpdateEntitlement": _ENTRY_WRITE,
    "DeleteEntitlement": {
        "entitlement": "GetEntitlement.NotFound",
        "in_use": "DeleteEntitlement.InUse",
    },
    "GetEntitlementGroup": _GROUP,
    "UpdateEntitlementGroup": _GROUP,
    "DeleteEntitlementGroup": _GROUP,
    "AddEntitlementToGroup": _GROUP_MEMBER,
    "RemoveEntitlementFromGroup": _GROUP_MEMBER
    | {"group member": "RemoveEntitlementFromGroup.NotFound"},
    "GetEntitlementGroupUsageMetrics": _GROUP | _USAGE_NOT_FOUND,
    "CreateLicense": _own(
        "CreateLicense",
        {"license family": "FamilyNotFound", "default_must_be_published": "DefaultMustBePublished"},
    ),
    "GetLicense": _own("GetLicense", {"license": "NotFound"}),
    "UpdateLicense": _own(
        "UpdateLicense",
        {"license": "NotFound", "default_must_be_published": "DefaultMustBePublished"},
    ),
    "DeleteLicense": _own("DeleteLicense", {"license": "NotFound", "in_use": "InUse"}),
    "PublishLicense": _own("PublishLicense", {"license": "NotFound", "wrong_state": "NotADraft"}),
    "ArchiveLicense": _own(
        "ArchiveLicense",
        {
            "license": "NotFound",
            "wrong_state": "NotPublished",
            "default_version": "DefaultMustBePublished",
        },
    ),
    "UnarchiveLicense": _own(
        "UnarchiveLicense", {"license": "NotFound", "wrong_state": "NotArchived"}
    ),
    "ListLicenseEntitlements": _own("ListLicenseEntitlements", {"license": "NotFound"}),
    "CreateLicenseEntitlement": _own(
        "CreateLicenseEntitlement",
        {
            "license": "NotFound",
            "entitlement": "EntitlementNotFound",
            "already_granted": "AlreadyExists",
        },
    ),
    "GetLicenseEntitlement": _GRANT_LOOKUPS,
    "UpdateLicenseEntitlement": _GRANT_LOOKUPS,
    "DeleteLicenseEntitlement": _GRANT_LOOKUPS,
    "GetLicenseFamily": _own(
        "GetLicenseFamily",
        {
            "license family": "NotFound",
            "license version": "VersionNotFound",
            "published version of license family": "NoPublishedVersion",
        },
    ),
    "GetCustomer": _own("GetCustomer", {"customer": "NotFound"}),
    "UpdateCustomer": _own("UpdateCustomer", {"customer": "NotFound"}),
    "DeleteCustomer": _own("DeleteCustomer", {"customer": "NotFound", "in_use": "HasInstances"}),
    "CreateInstance": _own("CreateInstance", _ASSIGN),
    "GetInstance": _own("GetInstance", {"instance": "NotFound"}),
    "UpdateInstance": _own("UpdateInstance", {"instance": "NotFound", **_ASSIGN}),
    "PatchInstance": _own("PatchInstance", {"instance": "NotFound"}),
    "DeleteInstance": _own("DeleteInstance", {"instance": "NotFound"}),
    "GetLicenseFile": _own("GetLicenseFile", {"instance": "NotFound"}),
    "GetEntitlementsUsageMetrics": _USAGE_NOT_FOUND,
    "GetEntitlementUsageMetrics": _own(
        "GetEntitlementUsageMetrics",
        {
            "instance": "InstanceNotFound",
            "entitlement": "EntitlementNotFound",
            "entitlement assignment": "EntitlementNotAssigned",
        },
    ),
    "ReportEntitlementUsageMetric": _own(
        "ReportEntitlementUsageMetric",
        {
            "instance or entitlement": "ContextNotFound",
            "unsupported_entitlement_type": "UnsupportedEntitlementType",
            "transaction_id_reused": "TransactionIdReused",
            "counter_out_of_range": "CounterOutOfRange",
        },
    ),
}

_LICENSE_POLICY = {"license": "LicenseNotFound"}
_OF_INSTANCE = {"instance": "InstanceNotFound"}
_USABLE = _OF_INSTANCE | {"suspended": "Suspended", "license_expired": "LicenseNotValid"}
_MACHINE = _OF_INSTANCE | {"machine": "MachineNotFound"}
_LEASE = _OF_INSTANCE | {"lease": "LeaseNotFound"}
_COUNTER = {
    "instance or entitlement": "ContextNotFound",
    "unsupported_entitlement_type": "UnsupportedEntitlementType",
    "holds_need_sum": "NotASumEntitlement",
    "counter_out_of_range": "CounterOutOfRange",
}
_RESERVATION = _COUNTER | {"reservation": "NotFound"}
CODES.update(
    {
        "GetMachinePolicy": _own("GetMachinePolicy", _LICENSE_POLICY),
        "UpdateMachinePolicy": _own("UpdateMachinePolicy", _LICENSE_POLICY),
        "ListMachines": _own("ListMachines", _OF_INSTANCE),
        "ActivateMachine": _own(
            "ActivateMachine",
            _USABLE
            | {
                "fingerprint_taken": "FingerprintTaken",
                "machine_limit": "MachineLimitReached",
                "core_limit": "CoreLimitReached",
                "cores_required": "CoresRequired",
            },
        ),
        "GetMachine": _own("GetMachine", _MACHINE),
        "DeactivateMachine": _own("DeactivateMachine", _MACHINE),
        "MachineHeartbeat": _own(
            "MachineHeartbeat", _MACHINE | {"heartbeat_dead": "HeartbeatDead"}
        ),
        "SuspendInstance": _own("SuspendInstance", _OF_INSTANCE),
        "ReinstateInstance": _own("ReinstateInstance", _OF_INSTANCE),
        "ValidateInstance": _own("ValidateInstance", _OF_INSTANCE),
        "ListSeatLeases": _own("ListSeatLeases", _OF_INSTANCE),
        "CheckOutSeat": _own(
            "CheckOutSeat",
            _USABLE | {"no_seats": "NoSeatsAvailable", "holder_taken": "HolderTaken"},
        ),
        "RenewSeatLease": _own("RenewSeatLease", _LEASE | {"lease_expired": "LeaseExpired"}),
        "ReleaseSeatLease": _own("ReleaseSeatLease", _LEASE),
        "ListReservations": _own("ListReservations", _COUNTER),
        "HoldReservation": _own("HoldReservation", _COUNTER | {"limit_reached": "LimitReached"}),
        "SettleReservation": _own(
            "SettleReservation",
            _RESERVATION
            | {
                "hold_expired": "Expired",
                "over_hold": "AboveHold",
                "limit_reached": "LimitReached",
            },
        ),
        "ReleaseReservation": _own("ReleaseReservation", _RESERVATION),
    }
)
_ACTIVATION = {
    "fingerprint_taken": "FingerprintTaken",
    "machine_limit": "MachineLimitReached",
    "core_limit": "CoreLimitReached",
    "cores_required": "CoresRequired",
}
CODES.update(
    {
        "RotateLicenseSigningKey": _own("RotateLicenseSigningKey", {"rotated": "Concurrent"}),
        "RetireLicenseSigningKey": _own(
            "RetireLicenseSigningKey", {"signing key": "KeyNotFound", "key_active": "KeyActive"}
        ),
        "IssueLicenseFile": _own("IssueLicenseFile", _OF_INSTANCE | {"machine": "MachineNotFound"}),
        "VerifyLicenseFile": _own(
            "VerifyLicenseFile",
            {"key_retired": "KeyRetired", "license_file_invalid": "InvalidFile"},
        ),
        "ActivateOffline": _own(
            "ActivateOffline",
            _USABLE
            | _ACTIVATION
            | {
                "license key": "LicenseKeyNotFound",
                "request_replayed": "RequestReplayed",
                "offline_file": "InvalidRequestFile",
            },
        ),
        "ImportUsageBundle": _own(
            "ImportUsageBundle",
            {
                "instance or entitlement": "ContextNotFound",
                "unsupported_entitlement_type": "UnsupportedEntitlementType",
                "counter_out_of_range": "CounterOutOfRange",
                "unknown_key": "UnknownKey",
                "offline_file": "InvalidBundle",
                "bundle_conflict": "BundleConflict",
                "sequence_gap": "SequenceGap",
            },
        ),
    }
)

# A report refused for its limit is an answer, not an error: the route names it itself.
THRESHOLD_EXCEEDED = "ReportEntitlementUsageMetric.ThresholdExceeded"


def code_of(operation: str | None, exc: DomainError) -> str | None:
    """Kaiten's code for ``exc`` raised by ``operation``; None: the status's default code."""
    if operation is None:
        return None
    key = exc.resource if isinstance(exc, NotFound) else exc.reason
    return CODES.get(operation, {}).get(key or "")


# The licensing domain's field names and how the wire spells them.
WIRE_FIELDS = {
    "aggregation_method": "aggregationMethod",
    "end_license_date": "endLicenseDate",
    "entitlement_type": "type",
    "family_id": "familyId",
    "overage_percent": "limitCapExceededOveragePercent",
    "reset_anchor": "resetAnchor",
    "reset_period": "resetPeriod",
    "sale_unit_factor": "saleUnitFactor",
    "unit_plural": "unitPlural",
    "unit_singular": "unitSingular",
    "value.kind": "value.type",
}

# The licensing rules whose messages Kaiten words with wire names (``{field}`` is the wire
# name of the error's field, other names come from its details); every other licensing
# reason keeps the domain's message and only has its field renamed.
MESSAGES = {
    "sale_unit_incomplete": "saleUnitSingular, saleUnitPlural and saleUnitFactor are set together",
    "usage_settings_need_number": (
        "aggregationMethod, resetPeriod and resetAnchor apply to NUMBER entitlements"
    ),
    "reset_anchor_without_period": "resetAnchor needs a resetPeriod",
    "immutable": "{field} cannot be changed once set",
    "unit_labels_incomplete": "unitSingular and unitPlural are set together",
    "families_differ": "familySlug and familyId name different families",
    "ends_before_start": "endLicenseDate is before startLicenseDate",
    "unlimited_overage": "an unlimited value (-1) takes limitCapExceededOveragePercent -1",
    "negative_overage": "limitCapExceededOveragePercent is -1 only for an unlimited value",
    "overage_needs_number": (
        "limitCapExceededOveragePercent applies to NUMBER entitlements, not {entitlement_type}"
    ),
    "transaction_id_reused": "transactionId {transaction_id} was used for another report",
}
_RENAMED_ONLY = frozenset({"sale_unit_without_unit", "unknown_aggregation", "value_kind"})


def wire_field(exc: DomainError) -> str | None:
    """The wire name of the field ``exc`` names (another domain's field is left as it is)."""
    field = exc.details.get("field")
    if field is None:
        return None
    if exc.reason in MESSAGES or exc.reason in _RENAMED_ONLY:
        return WIRE_FIELDS.get(str(field), str(field))
    return str(field)


def message_of(exc: DomainError) -> str:
    """The error's message as Kaiten words it."""
    template = MESSAGES.get(exc.reason or "")
    if template is None:
        return exc.message
    params: dict[str, Any] = {k: v for k, v in exc.details.items() if k != "field"}
    return template.format(field=wire_field(exc), **params)
