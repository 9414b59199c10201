"""/api/entitlements (the catalog, as catalog features) and /api/entitlement-groups."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from pydantic import Field

from meterline.api.deps import ReadSession, WriteSession
from meterline.api.json import iso, json_response
from meterline.api.kaiten.common import (
    SLUG,
    Body,
    Page,
    ReadEntitlements,
    ReadInstances,
    WriteEntitlements,
    compact,
    typed_out,
)
from meterline.api.kaiten.ids import wire_id
from meterline.kernel import money
from meterline.licensing import catalog, groups, reporting
from meterline.licensing.catalog import CatalogAttributes, CatalogEntry, CatalogTerms
from meterline.licensing.models import EntitlementGroup

router = APIRouter(tags=["entitlements"])


EntitlementType = Literal["BOOLEAN", "NUMBER", "CONFIG", "NUMBER_AI_CREDIT"]
Aggregation = Literal["COUNT", "SUM", "AVERAGE", "MIN", "MAX", "LATEST"]
ResetPeriod = Literal["HOUR", "DAY", "WEEK", "MONTH", "YEAR"]
ResetAnchor = Literal["CALENDAR", "LICENSE_START"]


class EntitlementFields(Body):
    name: str = Field(min_length=1, max_length=255)
    description: str | None = Field(max_length=2000)
    type: EntitlementType | None = None
    aggregationMethod: Aggregation | None = None
    resetPeriod: ResetPeriod | None = None
    resetAnchor: ResetAnchor | None = None
    warningThresholdPercent: int | None = Field(default=None, ge=0, le=100)
    groupSlugs: list[str] | None = Field(default=None, max_length=100)
    userFacing: bool | None = None
    displayOrder: int | None = Field(default=None, ge=-(2**31), le=2**31 - 1)
    icon: str | None = Field(default=None, max_length=100, pattern=r"^[a-z0-9-]+:[a-z0-9-]+$")
    unitSingular: str | None = Field(default=None, min_length=1, max_length=100)
    unitPlural: str | None = Field(default=None, min_length=1, max_length=100)
    saleUnitSingular: str | None = Field(default=None, min_length=1, max_length=100)
    saleUnitPlural: str | None = Field(default=None, min_length=1, max_length=100)
    saleUnitFactor: money.Quantity | None = Field(default=None, gt=0, lt=Decimal(10) ** 24)

    def terms(self) -> CatalogTerms:
        return CatalogTerms(
            name=self.name,
            description=self.description,
            entitlement_type=self.type,
            aggregation_method=self.aggregationMethod,
            reset_period=self.resetPeriod,
            reset_anchor=self.resetAnchor,
            unit_singular=self.unitSingular,
            unit_plural=self.unitPlural,
            group_slugs=self.groupSlugs,
            attributes=CatalogAttributes(
                warning_threshold_percent=self.warningThresholdPercent or 0,
                user_facing=bool(self.userFacing),
                display_order=self.displayOrder,
                icon=self.icon,
                sale_unit_singular=self.saleUnitSingular,
                sale_unit_plural=self.saleUnitPlural,
                sale_unit_factor=self.saleUnitFactor,
            ),
        )


class EntitlementIn(EntitlementFields):
    slug: str | None = Field(default=None, min_length=2, max_length=100, pattern=SLUG)


def entitlement_out(entry: CatalogEntry) -> dict[str, Any]:
    f, extra = entry.feature, entry.licensing
    kind = entry.entitlement_type
    is_number = kind in ("NUMBER", "NUMBER_AI_CREDIT")
    return compact(
        {
            "id": wire_id(f.id),
            "slug": f.lookup_key,
            "name": f.name,
            "type": kind,
            "aggregationMethod": (f.usage_aggregation or "SUM") if is_number else None,
            "resetPeriod": f.usage_reset_period,
            "resetAnchor": f.usage_reset_anchor,
            "warningThresholdPercent": extra.warning_threshold_percent if extra else 0,
            "userFacing": extra.user_facing if extra else False,
            "displayOrder": extra.display_order if extra else None,
            "icon": extra.icon if extra else None,
            "unitSingular": f.unit_singular,
            "unitPlural": f.unit_plural,
            "saleUnitSingular": extra.sale_unit_singular if extra else None,
            "saleUnitPlural": extra.sale_unit_plural if extra else None,
            "saleUnitFactor": extra.sale_unit_factor if extra else None,
            "entitlementGroups": [
                {"id": wire_id(g.id), "name": g.name, "slug": g.slug} for g in entry.groups
            ],
            "createdAt": iso(f.created_at),
            "updatedAt": iso(f.updated_at),
        }
    ) | {"description": f.description}


@router.get("/entitlements")
def list_entitlements(
    principal: ReadEntitlements, session: ReadSession, page: Page = Depends()
) -> Response:
    rows = catalog.list_catalog(session, principal, page.limit, page.offset)
    return page.answer(rows, entitlement_out)


@router.post("/entitlements", status_code=201)
def create_entitlement(
    body: EntitlementIn, principal: WriteEntitlements, session: WriteSession
) -> Response:
    entry = catalog.create_catalog_entry(session, principal, body.terms(), slug=body.slug)
    return json_response(entitlement_out(entry), 201)


@router.get("/entitlements/{entitlementSlug}")
def get_entitlement(
    entitlementSlug: str, principal: ReadEntitlements, session: ReadSession
) -> Response:
    return json_response(
        entitlement_out(catalog.catalog_entry(session, principal, entitlementSlug))
    )


@router.put("/entitlements/{entitlementSlug}", status_code=204)
def update_entitlement(
    entitlementSlug: str,
    body: EntitlementFields,
    principal: WriteEntitlements,
    session: WriteSession,
) -> Response:
    catalog.update_catalog_entry(session, principal, entitlementSlug, body.terms())
    return Response(status_code=204)


@router.delete("/entitlements/{entitlementSlug}", status_code=204)
def delete_entitlement(
    entitlementSlug: str, principal: WriteEntitlements, session: WriteSession
) -> Response:
    catalog.delete_catalog_entry(session, principal, entitlementSlug)
    return Response(status_code=204)


# --- entitlement groups ------------------------------------------------------------------


class GroupFields(Body):
    name: str = Field(min_length=1, max_length=255)
    description: str | None = Field(max_length=2000)


class GroupIn(GroupFields):
    slug: str | None = Field(default=None, min_length=2, max_length=100, pattern=SLUG)


class GroupMemberIn(Body):
    entitlementSlug: str = Field(min_length=1, max_length=255)


def group_out(group: EntitlementGroup) -> dict[str, Any]:
    return {
        "id": wire_id(group.id),
        "slug": group.slug,
        "name": group.name,
        "description": group.description,
        "createdAt": iso(group.created_at),
        "updatedAt": iso(group.updated_at),
    }


@router.get("/entitlement-groups", tags=["entitlement groups"])
def list_groups(
    principal: ReadEntitlements, session: ReadSession, page: Page = Depends()
) -> Response:
    return page.answer(groups.list_groups(session, principal, page.limit, page.offset), group_out)


@router.post("/entitlement-groups", status_code=201, tags=["entitlement groups"])
def create_group(body: GroupIn, principal: WriteEntitlements, session: WriteSession) -> Response:
    group = groups.create_group(
        session, principal, name=body.name, description=body.description, slug=body.slug
    )
    return json_response(group_out(group), 201)


@router.get("/entitlement-groups/{groupSlug}", tags=["entitlement groups"])
def get_group(groupSlug: str, principal: ReadEntitlements, session: ReadSession) -> Response:
    return json_response(group_out(groups.get_group(session, principal, groupSlug)))


@router.put("/entitlement-groups/{groupSlug}", status_code=204, tags=["entitlement groups"])
def update_group(
    groupSlug: str, body: GroupFields, principal: WriteEntitlements, session: WriteSession
) -> Response:
    groups.update_group(session, principal, groupSlug, name=body.name, description=body.description)
    return Response(status_code=204)


@router.delete("/entitlement-groups/{groupSlug}", status_code=204, tags=["entitlement groups"])
def delete_group(groupSlug: str, principal: WriteEntitlements, session: WriteSession) -> Response:
    groups.delete_group(session, principal, groupSlug)
    return Response(status_code=204)


@router.post(
    "/entitlement-groups/{groupSlug}/entitlements", status_code=201, tags=["entitlement groups"]
)
def add_group_member(
    groupSlug: str, body: GroupMemberIn, principal: WriteEntitlements, session: WriteSession
) -> Response:
    groups.add_to_group(session, principal, groupSlug, body.entitlementSlug)
    return Response(status_code=201)


@router.delete(
    "/entitlement-groups/{groupSlug}/entitlements/{entitlementSlug}",
    status_code=204,
    tags=["entitlement groups"],
)
def remove_group_member(
    groupSlug: str, entitlementSlug: str, principal: WriteEntitlements, session: WriteSession
) -> Response:
    groups.remove_from_group(session, principal, groupSlug, entitlementSlug)
    return Response(status_code=204)


@router.get("/entitlement-groups/{groupSlug}/usage", tags=["entitlement groups"])
def group_usage(
    groupSlug: str,
    principal: ReadInstances,
    session: ReadSession,
    instance: str = Query(min_length=1, max_length=100, description="The instance's slug."),
) -> Response:
    rows = []
    for item in reporting.group_usage(session, principal, groupSlug, instance):
        if isinstance(item, tuple):
            entitlement_id, slug, name, kind = item
            rows.append(
                {
                    "entitlementId": wire_id(entitlement_id),
                    "entitlementSlug": slug,
                    "entitlementName": name,
                    "entitlementType": kind,
                }
            )
            continue
        rows.append(
            compact(
                {
                    "entitlementId": wire_id(item.entitlement_id),
                    "entitlementSlug": item.entitlement_slug,
                    "entitlementName": item.entitlement_name or item.entitlement_slug,
                    "entitlementType": item.entitlement_type,
                    "licenseValue": typed_out(item.limit),
                    "usageValue": typed_out(item.value),
                    "currentPeriodStart": iso(item.window.start),
                    "currentPeriodEnd": iso(item.window.end),
                }
            )
        )
    return json_response(rows)
