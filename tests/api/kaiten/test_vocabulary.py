"""The Kaiten vocabulary names the routes the app serves, and nothing else."""

from __future__ import annotations

from meterline.api.kaiten import vocabulary
from meterline.app import create_app
from meterline.settings import Settings

# Meterline's own operations under /api: no Kaiten name, so their errors take the status's
# default code.
EXTENSIONS = {
    ("GET", "/api/instances/{instanceSlug}/entitlements/{entitlementSlug}/usage/reports"),
    ("GET", "/api/license-files/signing-key"),
}


def _kaiten_routes() -> set[tuple[str, str]]:
    """Every documented /api operation (the fast usage routes are documented too)."""
    paths = create_app(Settings(database_url="sqlite://")).openapi()["paths"]
    return {
        (method.upper(), path)
        for path, operations in paths.items()
        if path.startswith("/api/")
        for method in operations
    }


def test_every_kaiten_route_has_its_operation() -> None:
    named = {(method, "/api" + path) for method, path, _ in vocabulary.OPERATIONS}
    assert named == _kaiten_routes() - EXTENSIONS


def test_a_path_finds_its_operation() -> None:
    assert vocabulary.operation_of("DELETE", "/api/licenses/pro-v2") == "DeleteLicense"
    assert vocabulary.operation_of("GET", "/api/licenses/pro/entitlements") == (
        "ListLicenseEntitlements"
    )
    assert vocabulary.operation_of("GET", "/api/instances/i/entitlements/usage") == (
        "GetEntitlementsUsageMetrics"
    )
    assert vocabulary.operation_of("GET", "/api/instances/i/entitlements/e/usage") == (
        "GetEntitlementUsageMetrics"
    )
    assert vocabulary.operation_of("GET", "/api/license-files/signing-key") is None
    assert vocabulary.operation_of("GET", "/v1/customers/x") is None


def test_codes_name_known_operations_only() -> None:
    names = {name for _, _, name in vocabulary.OPERATIONS}
    assert set(vocabulary.CODES) <= names
    for operation, codes in vocabulary.CODES.items():
        for code in codes.values():
            # A code is its operation's, or the code of the lookup the operation makes.
            assert code.partition(".")[0] in names | {"EntitlementGroup"}, (operation, code)
