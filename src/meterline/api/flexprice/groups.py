"""/v1 groups of prices or features."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import Field
from sqlalchemy.orm import Session
from starlette.responses import Response

from meterline.api.deps import ReadSession, Vendor, VendorRead, WriteSession
from meterline.api.flexprice.common import WireModel, list_response
from meterline.api.flexprice.filters import FilterQuery, refuse_expand
from meterline.api.json import iso, json_response
from meterline.groups import service as groups
from meterline.groups.models import Group

router = APIRouter(tags=["groups"])


class GroupIn(WireModel):
    name: str = Field(min_length=1, max_length=255)
    lookup_key: str = Field(min_length=1, max_length=255)
    entity_type: str = Field(min_length=1, max_length=20)
    metadata: dict[str, str] | None = Field(default=None, max_length=100)


class GroupSearch(FilterQuery):
    group_ids: list[str] | None = Field(default=None, max_length=1000)
    entity_type: str | None = Field(default=None, max_length=20)
    lookup_key: str | None = Field(default=None, max_length=255)
    name: str | None = Field(default=None, max_length=255)


def group_out(found: Group, entity_ids: list[str]) -> dict[str, Any]:
    return {
        "id": found.id,
        "name": found.name,
        "lookup_key": found.lookup_key,
        "entity_type": found.entity_type,
        "entity_ids": entity_ids,
        "metadata": found.metadata_ or {},
        "status": found.status,
        "environment_id": found.environment_id,
        "created_at": iso(found.created_at),
        "updated_at": iso(found.updated_at),
    }


def _render(session: Session, rows: list[Group]) -> list[dict[str, Any]]:
    members = groups.members(session, rows)
    return [group_out(g, members[g.id]) for g in rows]


@router.post("/groups", status_code=201, summary="Create a group of prices or features")
def create_group(body: GroupIn, principal: Vendor, session: WriteSession) -> Response:
    made = groups.create_group(session, principal, groups.NewGroup(**body.model_dump()))
    return json_response(group_out(made, []), 201)


@router.post("/groups/search", summary="Search groups")
def query_groups(body: GroupSearch, principal: VendorRead, session: ReadSession) -> Response:
    refuse_expand(body.expand)
    found, total = groups.search_groups(
        session,
        principal,
        **body.terms(),
        ids=body.group_ids,
        entity_type=body.entity_type,
        lookup_key=body.lookup_key,
        name=body.name,
    )
    return list_response(_render(session, found), total, body)


@router.get("/groups/{group_id}", summary="Get a group and its members")
def get_group(group_id: str, principal: Vendor, session: ReadSession) -> Response:
    return json_response(_render(session, [groups.get_group(session, principal, group_id)])[0])


@router.delete("/groups/{group_id}", status_code=204, summary="Delete (archive) a group")
def delete_group(group_id: str, principal: Vendor, session: WriteSession) -> Response:
    groups.delete_group(session, principal, group_id)
    return Response(status_code=204)
