"""/api/components: the versioned building blocks of a product, by slug."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from pydantic import Field

from meterline.accounts.principal import Principal
from meterline.api.deps import ReadSession, WriteSession
from meterline.api.json import iso, json_response
from meterline.api.kaiten.common import SLUG, Body, Page, compact, scope, user
from meterline.api.kaiten.ids import id_of, wire_id
from meterline.licensing import components as service
from meterline.licensing.components import ComponentTerms
from meterline.licensing.distribution_models import Component

router = APIRouter(tags=["components"])

ReadComponents = Annotated[Principal, Depends(scope("read", "components"))]
WriteComponents = Annotated[Principal, Depends(scope("write", "components"))]


class ComponentFields(Body):
    name: str = Field(min_length=1, max_length=255)
    version: str = Field(min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=500)

    def terms(self) -> ComponentTerms:
        return ComponentTerms(name=self.name, version=self.version, description=self.description)


class ComponentIn(ComponentFields):
    previousComponentId: str | None = Field(default=None, max_length=40)
    slug: str | None = Field(default=None, min_length=2, max_length=100, pattern=SLUG)


def component_out(c: Component) -> dict[str, Any]:
    return compact(
        {
            "id": wire_id(c.id),
            "slug": c.slug,
            "name": c.name,
            "version": c.version,
            "description": c.description,
            "previousComponentId": wire_id(c.previous_component_id),
            "createdAt": iso(c.created_at),
            "createdBy": user(c.created_by),
        }
    )


@router.get("/components")
def list_components(
    principal: ReadComponents, session: ReadSession, page: Page = Depends()
) -> Response:
    rows = service.list_components(session, principal, page.limit, page.offset)
    return page.answer(rows, component_out)


@router.post("/components", status_code=201)
def create_component(
    body: ComponentIn, principal: WriteComponents, session: WriteSession
) -> Response:
    previous = body.previousComponentId
    created = service.create_component(
        session,
        principal,
        body.terms(),
        slug=body.slug,
        previous_component_id=id_of(previous, "comp", "component") if previous else None,
    )
    return json_response(component_out(created), 201)


@router.get("/components/{componentSlug}")
def get_component(componentSlug: str, principal: ReadComponents, session: ReadSession) -> Response:
    return json_response(component_out(service.get_component(session, principal, componentSlug)))


@router.put("/components/{componentSlug}")
def update_component(
    componentSlug: str, body: ComponentFields, principal: WriteComponents, session: WriteSession
) -> Response:
    updated = service.update_component(session, principal, componentSlug, body.terms())
    return json_response(component_out(updated))


@router.delete("/components/{componentSlug}", status_code=204)
def delete_component(
    componentSlug: str, principal: WriteComponents, session: WriteSession
) -> Response:
    service.delete_component(session, principal, componentSlug)
    return Response(status_code=204)
