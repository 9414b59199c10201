"""The /api router: every Kaiten-compatible resource."""

from __future__ import annotations

from fastapi import APIRouter

from meterline.api.kaiten import catalog, customers, instances, licenses

router = APIRouter()
router.include_router(catalog.router)
router.include_router(licenses.router)
router.include_router(customers.router)
router.include_router(instances.router)
