"""/v1 integrations: the configured providers, and the mappings of Meterline entities to
provider objects (link, delink, list) (payments/mappings.py)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from pydantic import Field
from starlette.responses import Response

from meterline.api.deps import ReadSession, Vendor, WriteSession
from meterline.api.flexprice.common import WireModel, list_envelope
from meterline.api.flexprice.payments import PaymentProviders
from meterline.api.free_json import FreeObject
from meterline.api.json import iso, json_response
from meterline.payments import mappings
from meterline.payments.models import IntegrationMapping

router = APIRouter(tags=["integrations"])


class LinkIn(WireModel):
    entity_type: str = Field(max_length=40)
    entity_id: str = Field(min_length=1, max_length=64)
    provider_type: str = Field(min_length=1, max_length=40)
    provider_entity_id: str = Field(min_length=1, max_length=255)
    metadata: FreeObject | None = None


class DelinkIn(WireModel):
    entity_type: str = Field(max_length=40)
    entity_id: str = Field(min_length=1, max_length=64)
    provider_type: str = Field(min_length=1, max_length=40)


def mapping_out(row: IntegrationMapping) -> dict[str, Any]:
    return {
        "id": row.id,
        "entity_type": row.entity_type,
        "entity_id": row.entity_id,
        "provider_type": row.provider_type,
        "provider_entity_id": row.provider_entity_id,
        "metadata": row.metadata_ or {},
        "status": row.status,
        "environment_id": row.environment_id,
        "created_by": row.created_by,
        "updated_by": row.updated_by,
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
    }


@router.get("/integrations/config", summary="The configured payment providers")
def get_integration_config(
    principal: Vendor, session: ReadSession, providers: PaymentProviders
) -> Response:
    names = set(mappings.providers_in_use(session, principal))
    if providers.stripe_configured:
        names.add("stripe")
    return json_response({"integrations": [{"provider": name} for name in sorted(names)]})


@router.post("/integrations/link", summary="Link an entity to a provider object")
def link_integration_mapping(body: LinkIn, principal: Vendor, session: WriteSession) -> Response:
    row = mappings.link(
        session,
        principal,
        entity_type=body.entity_type,
        entity_id=body.entity_id,
        provider_type=body.provider_type,
        provider_entity_id=body.provider_entity_id,
        metadata=dict(body.metadata) if body.metadata else None,
    )
    return json_response({"mapping": mapping_out(row)})


@router.delete("/integrations/link", summary="Delink an entity from a provider")
def delink_integration_mapping(
    body: DelinkIn, principal: Vendor, session: WriteSession
) -> Response:
    mappings.delink(
        session,
        principal,
        entity_type=body.entity_type,
        entity_id=body.entity_id,
        provider_type=body.provider_type,
    )
    return json_response({"message": "mapping removed"})


@router.get("/integrations/mappings", summary="An entity's provider mappings")
def get_entity_integration_mappings(
    principal: Vendor,
    session: ReadSession,
    entity_type: str = Query(max_length=40),
    entity_id: str = Query(min_length=1, max_length=64),
) -> Response:
    rows = mappings.mappings_of(session, principal, entity_type, entity_id)
    items = [mapping_out(r) for r in rows]
    return json_response(list_envelope(items, len(items), len(items), 0))
