"""/api/metadata-fields: typed fields of instance and deployment-zone metadata."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from pydantic import Field

from meterline.accounts.principal import Principal
from meterline.api.deps import ReadSession, WriteSession
from meterline.api.json import iso, json_response
from meterline.api.kaiten.common import Body, Page, compact, scope, user
from meterline.api.kaiten.ids import id_of, wire_id
from meterline.licensing import metadata_fields as service
from meterline.licensing.distribution_models import MetadataField
from meterline.licensing.metadata_fields import FieldTerms

router = APIRouter(tags=["metadata fields"])

ReadFields = Annotated[Principal, Depends(scope("read", "metadata_fields"))]
WriteFields = Annotated[Principal, Depends(scope("write", "metadata_fields"))]
ResourceType = Literal["DEPLOYMENT_ZONE", "INSTANCE"]
KEY = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"


class FieldBody(Body):
    resourceType: ResourceType
    key: str = Field(min_length=1, max_length=100, pattern=KEY)
    label: str = Field(min_length=1, max_length=255)
    jsonSchema: dict[str, Any]

    def terms(self) -> FieldTerms:
        return FieldTerms(self.resourceType, self.key, self.label, self.jsonSchema)


class FieldIn(FieldBody):
    displayOrder: int | None = Field(default=None, ge=0, le=1_000_000)


class DryRunIn(Body):
    jsonSchema: dict[str, Any]


class ReorderIn(Body):
    ids: list[str] = Field(max_length=200)


def field_out(f: MetadataField, *, with_order: bool = True) -> dict[str, Any]:
    return compact(
        {
            "id": wire_id(f.id),
            "resourceType": f.resource_type,
            "key": f.key,
            "label": f.label,
            "jsonSchema": f.json_schema,
            "displayOrder": f.display_order if with_order else None,
            "archivedAt": iso(f.archived_at),
            "createdAt": iso(f.created_at),
            "createdBy": user(f.created_by),
            "updatedAt": iso(f.updated_at),
            "updatedBy": user(f.updated_by),
        }
    )


def _field_id(given: str) -> str:
    return id_of(given, "mfld", "metadata field")


@router.get("/metadata-fields")
def list_fields(
    principal: ReadFields,
    session: ReadSession,
    resourceType: ResourceType = Query(description="DEPLOYMENT_ZONE or INSTANCE."),
    page: Page = Depends(),
) -> Response:
    rows = service.list_fields(session, principal, resourceType, page.limit, page.offset)
    return page.answer(rows, field_out)


@router.post("/metadata-fields", status_code=201)
def create_field(body: FieldIn, principal: WriteFields, session: WriteSession) -> Response:
    created = service.create_field(
        session, principal, body.terms(), display_order=body.displayOrder
    )
    return json_response(field_out(created), 201)


@router.post("/metadata-fields/reorder", status_code=204)
def reorder_fields(body: ReorderIn, principal: WriteFields, session: WriteSession) -> Response:
    service.reorder(session, principal, [_field_id(i) for i in body.ids])
    return Response(status_code=204)


@router.patch("/metadata-fields/{fieldId}")
def update_field(
    fieldId: str, body: FieldBody, principal: WriteFields, session: WriteSession
) -> Response:
    updated = service.update_field(session, principal, _field_id(fieldId), body.terms())
    # The display order changes only by reorder, and an update does not echo it.
    return json_response(field_out(updated, with_order=False))


@router.post("/metadata-fields/{fieldId}/archive")
def archive_field(fieldId: str, principal: WriteFields, session: WriteSession) -> Response:
    return json_response(field_out(service.archive_field(session, principal, _field_id(fieldId))))


@router.post("/metadata-fields/{fieldId}/unarchive")
def unarchive_field(fieldId: str, principal: WriteFields, session: WriteSession) -> Response:
    found = service.unarchive_field(session, principal, _field_id(fieldId))
    return json_response(field_out(found))


@router.post("/metadata-fields/{fieldId}/dry-run")
def dry_run(fieldId: str, body: DryRunIn, principal: WriteFields, session: ReadSession) -> Response:
    """What the candidate schema would invalidate; nothing is changed."""
    impact = service.dry_run(session, principal, _field_id(fieldId), body.jsonSchema)
    return json_response(
        {
            "count": impact.count,
            "samples": [{"name": name, "slug": slug} for name, slug in impact.samples],
        }
    )
