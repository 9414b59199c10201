"""/api/releases: immutable, versioned sets of components (no update)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from pydantic import Field

from meterline.accounts.principal import Principal
from meterline.api.deps import ReadSession, WriteSession
from meterline.api.json import iso, json_response
from meterline.api.kaiten.common import SLUG, Body, Page, compact, scope, user
from meterline.api.kaiten.components import component_out
from meterline.api.kaiten.ids import id_of, wire_id
from meterline.licensing import releases as service
from meterline.licensing.releases import ReleaseView

router = APIRouter(tags=["releases"])

ReadReleases = Annotated[Principal, Depends(scope("read", "releases"))]
WriteReleases = Annotated[Principal, Depends(scope("write", "releases"))]


class ReleaseIn(Body):
    version: str = Field(min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=500)
    componentIds: list[str] | None = Field(default=None, max_length=200)
    slug: str | None = Field(default=None, min_length=2, max_length=100, pattern=SLUG)


def release_out(view: ReleaseView) -> dict[str, Any]:
    r = view.release
    return compact(
        {
            "id": wire_id(r.id),
            "slug": r.slug,
            "version": r.version,
            "description": r.description,
            "componentIds": [wire_id(c.id) for c in view.components],
            "components": [component_out(c) for c in view.components],
            "createdAt": iso(r.created_at),
            "createdBy": user(r.created_by),
        }
    )


@router.get("/releases")
def list_releases(
    principal: ReadReleases, session: ReadSession, page: Page = Depends()
) -> Response:
    rows = service.list_releases(session, principal, page.limit, page.offset)
    return page.answer(rows, release_out)


@router.post("/releases", status_code=201)
def create_release(body: ReleaseIn, principal: WriteReleases, session: WriteSession) -> Response:
    view = service.create_release(
        session,
        principal,
        version=body.version,
        description=body.description,
        component_ids=[id_of(c, "comp", "component") for c in body.componentIds or []],
        slug=body.slug,
    )
    return json_response(release_out(view), 201)


@router.get("/releases/{releaseSlug}")
def get_release(releaseSlug: str, principal: ReadReleases, session: ReadSession) -> Response:
    return json_response(release_out(service.release_view(session, principal, releaseSlug)))


@router.delete("/releases/{releaseSlug}", status_code=204)
def delete_release(releaseSlug: str, principal: WriteReleases, session: WriteSession) -> Response:
    service.delete_release(session, principal, releaseSlug)
    return Response(status_code=204)
