"""The /api router: every Kaiten-compatible resource."""

from __future__ import annotations

from fastapi import APIRouter

from meterline.api.kaiten import (
    audit,
    catalog,
    components,
    connectors,
    customers,
    feature_flags,
    instances,
    integrations,
    licenses,
    metadata_fields,
    platform,
    releases,
    service_accounts,
    zones,
)

router = APIRouter()
router.include_router(catalog.router)
router.include_router(licenses.router)
router.include_router(customers.router)
router.include_router(instances.router)
router.include_router(zones.router)
router.include_router(components.router)
router.include_router(releases.router)
router.include_router(metadata_fields.router)
router.include_router(audit.router)
router.include_router(integrations.router)
router.include_router(service_accounts.router)
router.include_router(platform.router)
router.include_router(feature_flags.router)
router.include_router(connectors.router)
