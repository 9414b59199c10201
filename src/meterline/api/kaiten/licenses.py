"""/api/licenses (versions, lifecycle, grants) and /api/license-families."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from pydantic import Field

from meterline.api.deps import ReadSession, WriteSession
from meterline.api.json import iso, json_response
from meterline.api.kaiten.common import (
    SLUG,
    Body,
    Page,
    ReadLicenses,
    TypedValueIn,
    WriteLicenses,
    compact,
    typed_in,
    typed_out,
    user,
)
from meterline.api.kaiten.ids import stored_id, wire_id
from meterline.licensing import grants, licenses
from meterline.licensing.grants import GrantView
from meterline.licensing.licenses import FamilyView
from meterline.licensing.models import License, LicenseFamily
from meterline.licensing.values import overage_percent_of

router = APIRouter(tags=["licenses"])

LicenseType = Literal["DEVELOPMENT", "TRIAL", "PAID", "COMMUNITY"]


class LicenseFields(Body):
    name: str = Field(min_length=1, max_length=255)
    description: str = Field(default="", max_length=500)
    type: LicenseType
    isDefault: bool = False
    versionName: str | None = Field(default=None, min_length=1, max_length=50)


class LicenseIn(LicenseFields):
    slug: str | None = Field(default=None, min_length=2, max_length=100, pattern=SLUG)
    familySlug: str | None = Field(default=None, min_length=2, max_length=100, pattern=SLUG)
    familyId: str | None = Field(default=None, min_length=1, max_length=40)
    lifecycleState: Literal["DRAFT", "PUBLISHED"] | None = None


class GrantFields(Body):
    value: TypedValueIn
    limitCapExceededOveragePercent: int | None = Field(default=None, ge=-1, le=1_000_000)


class GrantIn(GrantFields):
    entitlementSlug: str = Field(min_length=1, max_length=255)


def license_out(item: License, family: LicenseFamily | None = None) -> dict[str, Any]:
    return compact(
        {
            "id": wire_id(item.id),
            "slug": item.slug,
            "name": item.name,
            "description": item.description,
            "type": item.type,
            "version": str(item.version),
            "versionName": item.version_name,
            "isDefault": item.is_default,
            "lifecycleState": item.lifecycle_state,
            "familyId": wire_id(item.family_id),
            "familySlug": family.slug if family else None,
            "createdAt": iso(item.created_at),
            "updatedAt": iso(item.updated_at),
        }
    )


def grant_out(view: GrantView) -> dict[str, Any]:
    g, entry, lic = view.grant, view.entry, view.license
    kind = entry.entitlement_type
    value = grants.granted_value(kind, g)
    return {
        "entitlementName": entry.feature.name,
        "entitlementSlug": entry.feature.lookup_key,
        "entitlementType": "NUMBER" if kind == "NUMBER_AI_CREDIT" else kind,
        "entitlementGroups": [
            {"id": wire_id(x.id), "name": x.name, "slug": x.slug} for x in entry.groups
        ],
        "licenseId": wire_id(lic.id),
        "licenseSlug": lic.slug,
        "value": typed_out(value),
        "limitCapExceededOveragePercent": overage_percent_of(
            kind, g.usage_limit, g.overage_percent
        ),
        "createdAt": iso(g.created_at),
        "createdBy": user(lic.created_by),
        "updatedAt": iso(g.updated_at),
        "updatedBy": user(lic.updated_by),
    }


@router.get("/licenses")
def list_licenses(
    principal: ReadLicenses, session: ReadSession, page: Page = Depends()
) -> Response:
    rows = licenses.list_licenses(session, principal, page.limit, page.offset)
    families = licenses.families_of(session, rows)
    return page.answer(rows, lambda r: license_out(r, families.get(r.family_id)))


@router.post("/licenses", status_code=201)
def create_license(body: LicenseIn, principal: WriteLicenses, session: WriteSession) -> Response:
    created = licenses.create_license(
        session,
        principal,
        name=body.name,
        description=body.description,
        license_type=body.type,
        is_default=body.isDefault,
        version_name=body.versionName,
        slug=body.slug,
        family_slug=body.familySlug,
        family_id=body.familyId and (stored_id(body.familyId, "lfam") or body.familyId),
        lifecycle_state=body.lifecycleState,
    )
    families = licenses.families_of(session, [created])
    return json_response(license_out(created, families.get(created.family_id)), 201)


@router.get("/licenses/{licenseSlug}")
def get_license(licenseSlug: str, principal: ReadLicenses, session: ReadSession) -> Response:
    found = licenses.get_license(session, principal, licenseSlug)
    families = licenses.families_of(session, [found])
    return json_response(license_out(found, families.get(found.family_id)))


@router.put("/licenses/{licenseSlug}", status_code=204)
def update_license(
    licenseSlug: str, body: LicenseFields, principal: WriteLicenses, session: WriteSession
) -> Response:
    licenses.update_license(
        session,
        principal,
        licenseSlug,
        name=body.name,
        description=body.description,
        license_type=body.type,
        is_default=body.isDefault,
        version_name=body.versionName,
    )
    return Response(status_code=204)


@router.delete("/licenses/{licenseSlug}", status_code=204)
def delete_license(licenseSlug: str, principal: WriteLicenses, session: WriteSession) -> Response:
    licenses.delete_license(session, principal, licenseSlug)
    return Response(status_code=204)


@router.post("/licenses/{licenseSlug}/publish")
def publish_license(licenseSlug: str, principal: WriteLicenses, session: WriteSession) -> Response:
    return json_response(license_out(licenses.publish_license(session, principal, licenseSlug)))


@router.post("/licenses/{licenseSlug}/archive")
def archive_license(licenseSlug: str, principal: WriteLicenses, session: WriteSession) -> Response:
    return json_response(license_out(licenses.archive_license(session, principal, licenseSlug)))


@router.post("/licenses/{licenseSlug}/unarchive")
def unarchive_license(
    licenseSlug: str, principal: WriteLicenses, session: WriteSession
) -> Response:
    return json_response(license_out(licenses.unarchive_license(session, principal, licenseSlug)))


@router.get("/licenses/{licenseSlug}/entitlements")
def list_grants(
    licenseSlug: str, principal: ReadLicenses, session: ReadSession, page: Page = Depends()
) -> Response:
    rows = grants.list_grants(session, principal, licenseSlug, page.limit, page.offset)
    return page.answer(rows, grant_out)


@router.post("/licenses/{licenseSlug}/entitlements", status_code=201)
def create_grant(
    licenseSlug: str, body: GrantIn, principal: WriteLicenses, session: WriteSession
) -> Response:
    view = grants.create_grant(
        session,
        principal,
        licenseSlug,
        body.entitlementSlug,
        typed_in(body.value),
        body.limitCapExceededOveragePercent,
    )
    return json_response(grant_out(view), 201)


@router.get("/licenses/{licenseSlug}/entitlements/{entitlementSlug}")
def get_grant(
    licenseSlug: str, entitlementSlug: str, principal: ReadLicenses, session: ReadSession
) -> Response:
    return json_response(
        grant_out(grants.get_grant(session, principal, licenseSlug, entitlementSlug))
    )


@router.put("/licenses/{licenseSlug}/entitlements/{entitlementSlug}", status_code=204)
def update_grant(
    licenseSlug: str,
    entitlementSlug: str,
    body: GrantFields,
    principal: WriteLicenses,
    session: WriteSession,
) -> Response:
    grants.update_grant(
        session,
        principal,
        licenseSlug,
        entitlementSlug,
        typed_in(body.value),
        body.limitCapExceededOveragePercent,
    )
    return Response(status_code=204)


@router.delete("/licenses/{licenseSlug}/entitlements/{entitlementSlug}", status_code=204)
def delete_grant(
    licenseSlug: str, entitlementSlug: str, principal: WriteLicenses, session: WriteSession
) -> Response:
    grants.delete_grant(session, principal, licenseSlug, entitlementSlug)
    return Response(status_code=204)


# --- families ----------------------------------------------------------------------------


def family_out(view: FamilyView, include_versions: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": wire_id(view.family.id),
        "slug": view.family.slug,
        "versionCount": len(view.versions),
        "currentVersion": license_out(view.current, view.family) if view.current else None,
        "createdAt": iso(view.family.created_at),
        "updatedAt": iso(view.family.updated_at),
    }
    if include_versions:
        body["versions"] = [license_out(v, view.family) for v in view.versions]
    return body


@router.get("/license-families", tags=["license families"])
def list_families(
    principal: ReadLicenses, session: ReadSession, page: Page = Depends()
) -> Response:
    rows = licenses.list_families(session, principal, page.limit, page.offset)
    return page.answer(rows, family_out)


@router.get("/license-families/{familySlug}", tags=["license families"])
def get_family(
    familySlug: str,
    principal: ReadLicenses,
    session: ReadSession,
    version: int | None = Query(None, ge=1, le=2**31 - 1),
    include: Literal["versions"] | None = Query(None),
) -> Response:
    view = licenses.get_family(
        session, principal, familySlug, version=version, include_versions=include == "versions"
    )
    return json_response(family_out(view, include_versions=include == "versions"))
