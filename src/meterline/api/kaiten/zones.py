"""/api/deployment-zones: the environments instances run in, by slug."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from pydantic import Field

from meterline.accounts.principal import Principal
from meterline.api.deps import ReadSession, WriteSession
from meterline.api.free_json import FreeObject
from meterline.api.json import iso, json_response
from meterline.api.kaiten.common import SLUG, Body, Page, compact, scope, user
from meterline.api.kaiten.ids import id_of, wire_id
from meterline.licensing import zones as service
from meterline.licensing.distribution_models import DeploymentZone
from meterline.licensing.zones import ZoneTerms

router = APIRouter(tags=["deployment zones"])

ReadZones = Annotated[Principal, Depends(scope("read", "deployment_zones"))]
WriteZones = Annotated[Principal, Depends(scope("write", "deployment_zones"))]


class ZoneFields(Body):
    name: str = Field(min_length=1, max_length=255)
    type: str = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=2000)
    metadata: FreeObject | None = Field(default=None, max_length=100)
    releaseId: str | None = Field(default=None, max_length=40)

    def terms(self) -> ZoneTerms:
        release = self.releaseId
        return ZoneTerms(
            name=self.name,
            type=self.type,
            description=self.description,
            metadata=self.metadata,
            release_id=id_of(release, "rel", "release") if release else None,
        )


class ZoneIn(ZoneFields):
    slug: str | None = Field(default=None, min_length=2, max_length=100, pattern=SLUG)


def zone_out(z: DeploymentZone) -> dict[str, Any]:
    return compact(
        {
            "id": wire_id(z.id),
            "slug": z.slug,
            "name": z.name,
            "type": z.type,
            "description": z.description,
            "metadata": z.metadata_,
            "releaseId": wire_id(z.release_id),
            "createdAt": iso(z.created_at),
            "createdBy": user(z.created_by),
            "updatedAt": iso(z.updated_at),
            "updatedBy": user(z.updated_by),
        }
    )


@router.get("/deployment-zones")
def list_zones(principal: ReadZones, session: ReadSession, page: Page = Depends()) -> Response:
    return page.answer(service.list_zones(session, principal, page.limit, page.offset), zone_out)


@router.post("/deployment-zones", status_code=201)
def create_zone(body: ZoneIn, principal: WriteZones, session: WriteSession) -> Response:
    created = service.create_zone(session, principal, body.terms(), slug=body.slug)
    return json_response(zone_out(created), 201)


@router.get("/deployment-zones/{deploymentZoneSlug}")
def get_zone(deploymentZoneSlug: str, principal: ReadZones, session: ReadSession) -> Response:
    return json_response(zone_out(service.get_zone(session, principal, deploymentZoneSlug)))


@router.put("/deployment-zones/{deploymentZoneSlug}", status_code=204)
def update_zone(
    deploymentZoneSlug: str, body: ZoneFields, principal: WriteZones, session: WriteSession
) -> Response:
    service.update_zone(session, principal, deploymentZoneSlug, body.terms())
    return Response(status_code=204)


@router.delete("/deployment-zones/{deploymentZoneSlug}", status_code=204)
def delete_zone(deploymentZoneSlug: str, principal: WriteZones, session: WriteSession) -> Response:
    service.delete_zone(session, principal, deploymentZoneSlug)
    return Response(status_code=204)
