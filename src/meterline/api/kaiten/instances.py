"""/api/instances: deployments, their usage (reads and reports) and signed license files."""

from __future__ import annotations

import base64
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import Field

from meterline.api.deps import ReadSession, WriteSession
from meterline.api.free_json import FreeObject
from meterline.api.json import iso, json_response
from meterline.api.kaiten import usage
from meterline.api.kaiten.common import (
    SLUG,
    Body,
    Page,
    ReadInstances,
    ReadLicenses,
    WriteInstances,
    compact,
    user,
)
from meterline.api.kaiten.ids import id_of, stored_id, wire_id
from meterline.api.kaiten.integrations import Links, integrations_out, links_in
from meterline.api.kaiten.usage import UsageReportIn, usage_out
from meterline.kernel.instants import AwareInstant
from meterline.licensing import instances as service
from meterline.licensing import reporting
from meterline.licensing.instances import InstanceTerms, InstanceView

router = APIRouter(tags=["instances"])


class InstanceFields(Body):
    name: str = Field(min_length=1, max_length=255)
    description: str = Field(default="", max_length=2000)
    customerId: str = Field(min_length=1, max_length=40)
    licenseId: str = Field(min_length=1, max_length=40)
    startLicenseDate: AwareInstant
    endLicenseDate: AwareInstant
    deploymentZoneId: str | None = Field(default=None, max_length=40)
    metadata: FreeObject | None = None
    slug: str | None = Field(default=None, min_length=2, max_length=100, pattern=SLUG)

    def terms(self) -> InstanceTerms:
        return InstanceTerms(
            name=self.name,
            description=self.description,
            customer_id=stored_id(self.customerId, "cust") or self.customerId,
            license_id=stored_id(self.licenseId, "lic") or self.licenseId,
            start_license_date=self.startLicenseDate,
            end_license_date=self.endLicenseDate,
            deployment_zone_id=(
                id_of(self.deploymentZoneId, "dzone", "deployment zone")
                if self.deploymentZoneId
                else None
            ),
            metadata=self.metadata,
        )


class InstanceIn(InstanceFields):
    integrations: Links | None = None


class InstancePatch(Body):
    status: Literal["HEALTHY", "DEGRADED", "INCIDENT", "MAINTENANCE"] | None = None
    lifecycleStage: str | None = Field(default=None, min_length=1, max_length=50)


def instance_out(view: InstanceView) -> dict[str, Any]:
    i = view.instance
    return compact(
        {
            "id": wire_id(i.id),
            "slug": i.slug,
            "name": i.name,
            "description": i.description,
            "customerId": wire_id(view.customer.id),
            "customerSlug": view.customer.slug or view.customer.external_id,
            "licenseId": wire_id(view.license.id),
            "licenseSlug": view.license.slug,
            "startLicenseDate": iso(i.start_license_date),
            "endLicenseDate": iso(i.end_license_date),
            "status": i.status,
            "lifecycleStage": i.lifecycle_stage,
            "metadata": i.metadata_ or {},
            "deploymentZoneId": wire_id(i.deployment_zone_id),
            "deploymentZoneSlug": view.zone.slug if view.zone else None,
            "createdAt": iso(i.created_at),
            "createdBy": user(i.created_by),
            "updatedAt": iso(i.updated_at),
            "updatedBy": user(i.updated_by),
            "integrations": integrations_out(view.links),
        }
    )


@router.get("/instances")
def list_instances(
    principal: ReadInstances, session: ReadSession, page: Page = Depends()
) -> Response:
    rows = service.list_instances(session, principal, page.limit, page.offset)
    return page.answer(rows, instance_out)


@router.post("/instances", status_code=201)
def create_instance(body: InstanceIn, principal: WriteInstances, session: WriteSession) -> Response:
    view = service.create_instance(
        session, principal, body.terms(), slug=body.slug, links=links_in(body.integrations)
    )
    return json_response(instance_out(view), 201)


@router.get("/instances/{instanceSlug}")
def get_instance(instanceSlug: str, principal: ReadInstances, session: ReadSession) -> Response:
    return json_response(instance_out(service.instance_view(session, principal, instanceSlug)))


@router.put("/instances/{instanceSlug}", status_code=204)
def update_instance(
    instanceSlug: str, body: InstanceFields, principal: WriteInstances, session: WriteSession
) -> Response:
    service.update_instance(session, principal, instanceSlug, body.terms(), new_slug=body.slug)
    return Response(status_code=204)


@router.patch("/instances/{instanceSlug}", status_code=204)
def patch_instance(
    instanceSlug: str, body: InstancePatch, principal: WriteInstances, session: WriteSession
) -> Response:
    service.patch_instance(
        session, principal, instanceSlug, status=body.status, lifecycle_stage=body.lifecycleStage
    )
    return Response(status_code=204)


@router.delete("/instances/{instanceSlug}", status_code=204)
def delete_instance(
    instanceSlug: str, principal: WriteInstances, session: WriteSession
) -> Response:
    service.delete_instance(session, principal, instanceSlug)
    return Response(status_code=204)


@router.get("/instances/{instanceSlug}/entitlements/usage", tags=["usage"])
def list_usage(instanceSlug: str, principal: ReadInstances, session: ReadSession) -> Response:
    return json_response(
        [usage_out(v) for v in reporting.list_usage(session, principal, instanceSlug)]
    )


# The two usage operations are served by the fast routes of usage.py (api/fastpath.py)
# where they can be; these are the documented operations, and answer what those decline.


@router.get("/instances/{instanceSlug}/entitlements/{entitlementSlug}/usage", tags=["usage"])
async def get_usage(request: Request, instanceSlug: str, entitlementSlug: str) -> Response:
    """The instance's usage of one entitlement next to its grant (scope ``read:instances``)."""
    return await usage.read_usage(request)


@router.post("/instances/{instanceSlug}/entitlements/{entitlementSlug}/usage", tags=["usage"])
async def report_usage(
    request: Request, instanceSlug: str, entitlementSlug: str, body: UsageReportIn
) -> Response:
    """Report usage of a NUMBER entitlement (scope ``write:instances``)."""
    return await usage.report_usage(request, instanceSlug, entitlementSlug, body)


@router.get(
    "/instances/{instanceSlug}/entitlements/{entitlementSlug}/usage/reports", tags=["usage"]
)
def usage_ledger(
    instanceSlug: str,
    entitlementSlug: str,
    principal: ReadInstances,
    session: ReadSession,
    limit: int = Query(100, ge=1, le=1000, description="The most reports to return, oldest first."),
) -> Response:
    """A Meterline extension: the ledger of one counter, every accepted and refused report."""
    rows = reporting.ledger(session, principal, instanceSlug, entitlementSlug, limit)
    return json_response(
        [
            compact(
                {
                    "id": wire_id(r.id),
                    "status": r.status,
                    "behavior": r.behavior,
                    "value": r.reported_value,
                    "previousValue": r.previous_value,
                    "resultingValue": r.resulting_value,
                    "eventCount": r.event_count,
                    "periodStart": iso(r.window_start),
                    "transactionId": r.transaction_id,
                    "metadata": r.metadata_,
                    "createdAt": iso(r.created_at),
                }
            )
            for r in rows
        ]
    )


@router.get("/instances/{instanceSlug}/license-file", tags=["license files"])
def license_file(instanceSlug: str, principal: ReadInstances, session: WriteSession) -> Response:
    """The instance's license, signed with the environment's Ed25519 key (verifiable offline)."""
    text = service.issue_license_file(session, principal, instanceSlug)
    return Response(
        text,
        media_type="application/x-meterline-license",
        headers={"Content-Disposition": f'attachment; filename="{instanceSlug}.lic"'},
    )


@router.get("/license-files/signing-key", tags=["license files"])
def signing_key(principal: ReadLicenses, session: WriteSession) -> Response:
    """The environment's public key, to verify license files with."""
    key = service.public_key(session, principal)
    return json_response(
        {
            "keyId": key.key_id,
            "algorithm": "Ed25519",
            "publicKeyPem": key.pem,
            "publicKey": base64.b64encode(key.raw).decode("ascii"),
        }
    )
