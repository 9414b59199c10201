"""/api integrations: a customer's or an instance's link to a third-party record, per
adapter (``/customers/{slug}/integrations/{name}``, ``/instances/{slug}/integrations/{name}``),
and the owners found and upserted by that record (``/integration/{adapter}/...``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Response
from pydantic import Field, StringConstraints

from meterline.accounts.principal import Principal
from meterline.api.deps import ReadSession, WriteSession
from meterline.api.free_json import FreeObject
from meterline.api.json import iso, json_response
from meterline.api.kaiten.common import (
    SLUG,
    Body,
    ReadCustomers,
    ReadInstances,
    WriteCustomers,
    WriteInstances,
    compact,
    scope,
)
from meterline.api.kaiten.ids import id_of, stored_id, wire_id
from meterline.kernel.instants import AwareInstant
from meterline.licensing import integration_sync as sync
from meterline.licensing import integrations as service
from meterline.licensing.integration_models import Integration
from meterline.licensing.integration_sync import (
    CustomerUpsert,
    InstanceUpsert,
    LinkChange,
    LinkedCustomer,
    LinkedInstance,
)
from meterline.licensing.integrations import LinkTerms, OwnerKind

router = APIRouter(tags=["integrations"])

HTTP_URL = r"^https?://[^\s/?#]+[^\s]*$"
MAX_LINKS = 20
MAX_METADATA_KEYS = 100

# Adapter names are slugs: Meterline calls no adapter, so any slug-shaped name is accepted.
AdapterName = Annotated[str, StringConstraints(min_length=2, max_length=100, pattern=SLUG)]
NamePath = Annotated[
    str, Path(min_length=2, max_length=100, pattern=SLUG, description="The adapter, e.g. attio.")
]
AdapterPath = NamePath
ExternalIdPath = Annotated[
    str, Path(min_length=1, max_length=255, description="The record's id in the adapter.")
]
WebUrl = Annotated[str, StringConstraints(max_length=2048, pattern=HTTP_URL)]
Metadata = Annotated[FreeObject, Field(max_length=MAX_METADATA_KEYS)]


class IntegrationIn(Body):
    """A link's body (snake_case, as the contract has it); PUT replaces it whole."""

    external_id: str = Field(min_length=1, max_length=255)
    metadata: Metadata | None = None
    web_url: WebUrl | None = None
    last_error: str | None = Field(default=None, max_length=2000)

    def terms(self) -> LinkTerms:
        return LinkTerms(
            external_id=self.external_id,
            metadata=self.metadata,
            web_url=self.web_url,
            last_error=self.last_error,
        )


Links = Annotated[dict[AdapterName, IntegrationIn], Field(max_length=MAX_LINKS)]


def links_in(links: dict[str, IntegrationIn] | None) -> dict[str, LinkTerms] | None:
    """The ``integrations`` of a customer or an instance being created."""
    return {name: link.terms() for name, link in links.items()} if links else None


def integration_out(link: Integration) -> dict[str, Any]:
    return compact(
        {
            "external_id": link.external_id,
            "synced_at": iso(link.updated_at),
            "metadata": link.metadata_,
            "web_url": link.web_url,
            "last_error": link.last_error,
        }
    )


def integrations_out(links: dict[str, Integration]) -> dict[str, Any] | None:
    """An owner's ``integrations`` (absent when it has none, as upstream omits it)."""
    return {name: integration_out(link) for name, link in links.items()} or None


class LinkChangeIn(Body):
    webUrl: WebUrl | None = None
    error: str | None = Field(default=None, max_length=2000)
    integrationMetadata: Metadata | None = None

    def link(self) -> LinkChange:
        return LinkChange(web_url=self.webUrl, error=self.error, metadata=self.integrationMetadata)


class CustomerUpsertIn(LinkChangeIn):
    name: str | None = Field(default=None, min_length=1, max_length=255)
    slug: str | None = Field(default=None, min_length=2, max_length=100, pattern=SLUG)
    domain: str | None = Field(
        default=None, max_length=255, pattern=r"^[a-z0-9_-]+(\.[a-z0-9_-]+)+$"
    )

    def change(self) -> CustomerUpsert:
        return CustomerUpsert(name=self.name, slug=self.slug, domain=self.domain, link=self.link())


class InstanceUpsertIn(LinkChangeIn):
    name: str | None = Field(default=None, min_length=1, max_length=255)
    slug: str | None = Field(default=None, min_length=2, max_length=100, pattern=SLUG)
    description: str | None = Field(default=None, max_length=2000)
    customerExternalId: str | None = Field(default=None, min_length=1, max_length=255)
    licenseId: str | None = Field(default=None, min_length=1, max_length=40)
    deploymentZoneId: str | None = Field(default=None, min_length=1, max_length=40)
    startLicenseDate: AwareInstant | None = None
    endLicenseDate: AwareInstant | None = None
    metadata: Metadata | None = None

    def change(self) -> InstanceUpsert:
        license_id, zone_id = self.licenseId, self.deploymentZoneId
        return InstanceUpsert(
            name=self.name,
            slug=self.slug,
            description=self.description,
            customer_external_id=self.customerExternalId,
            license_id=(stored_id(license_id, "lic") or license_id) if license_id else None,
            deployment_zone_id=id_of(zone_id, "dzone", "deployment zone") if zone_id else None,
            start_license_date=self.startLicenseDate,
            end_license_date=self.endLicenseDate,
            metadata=self.metadata,
            link=self.link(),
        )


def customer_resource_out(linked: LinkedCustomer) -> dict[str, Any]:
    customer, link = linked.customer, linked.link
    return compact(
        {
            "name": customer.name,
            "slug": customer.slug,
            "domain": customer.domain,
            "webUrl": link.web_url,
            "error": link.last_error,
            "integrationMetadata": link.metadata_ or {},
        }
    )


def instance_resource_out(linked: LinkedInstance) -> dict[str, Any]:
    instance, link = linked.view.instance, linked.link
    return compact(
        {
            "name": instance.name,
            "slug": instance.slug,
            "description": instance.description,
            "customerExternalId": linked.customer_external_id,
            "licenseId": wire_id(instance.license_id),
            "deploymentZoneId": wire_id(instance.deployment_zone_id),
            "startLicenseDate": iso(instance.start_license_date),
            "endLicenseDate": iso(instance.end_license_date),
            "webUrl": link.web_url,
            "error": link.last_error,
            "integrationMetadata": link.metadata_ or {},
        }
    )


# --- an owner's links ---------------------------------------------------------------------


def _link_routes(kind: OwnerKind, module: str) -> None:
    """The four routes of one owner kind's links (``/customers/{customerSlug}/...`` with the
    customers scopes, ``/instances/{instanceSlug}/...`` with the instances scopes): read,
    create, replace and delete."""
    path = f"/{kind}s/{{{kind}Slug}}/integrations/{{integrationName}}"
    alias = f"{kind}Slug"
    reads = Depends(scope("read", module))
    writes = Depends(scope("write", module))

    @router.get(path, name=f"get_{kind}_integration")
    def get_link(
        integrationName: NamePath,
        session: ReadSession,
        slug: str = Path(alias=alias),
        principal: Principal = reads,
    ) -> Response:
        link = service.get_link(session, principal, kind, slug, integrationName)
        return json_response(integration_out(link))

    @router.post(path, status_code=201, name=f"create_{kind}_integration")
    def create_link(
        integrationName: NamePath,
        body: IntegrationIn,
        session: WriteSession,
        slug: str = Path(alias=alias),
        principal: Principal = writes,
    ) -> Response:
        link = service.create_link(session, principal, kind, slug, integrationName, body.terms())
        return json_response(integration_out(link), 201)

    @router.put(path, name=f"update_{kind}_integration")
    def replace_link(
        integrationName: NamePath,
        body: IntegrationIn,
        session: WriteSession,
        slug: str = Path(alias=alias),
        principal: Principal = writes,
    ) -> Response:
        link = service.replace_link(session, principal, kind, slug, integrationName, body.terms())
        return json_response(integration_out(link))

    @router.delete(path, status_code=204, name=f"delete_{kind}_integration")
    def delete_link(
        integrationName: NamePath,
        session: WriteSession,
        slug: str = Path(alias=alias),
        principal: Principal = writes,
    ) -> Response:
        service.delete_link(session, principal, kind, slug, integrationName)
        return Response(status_code=204)


_link_routes("customer", "customers")
_link_routes("instance", "instances")


# --- owners by record --------------------------------------------------------------------


@router.get("/integration/{adapter}/customer/{externalId}")
def get_customer_by_record(
    adapter: AdapterPath, externalId: ExternalIdPath, principal: ReadCustomers, session: ReadSession
) -> Response:
    return json_response(
        customer_resource_out(sync.linked_customer(session, principal, adapter, externalId))
    )


@router.patch("/integration/{adapter}/customer/{externalId}")
def upsert_customer_by_record(
    adapter: AdapterPath,
    externalId: ExternalIdPath,
    body: CustomerUpsertIn,
    principal: WriteCustomers,
    session: WriteSession,
) -> Response:
    """Create the customer linked to the record, or update it (and its link)."""
    linked = sync.upsert_customer(session, principal, adapter, externalId, body.change())
    return json_response(customer_resource_out(linked))


@router.get("/integration/{adapter}/instance/{externalId}")
def get_instance_by_record(
    adapter: AdapterPath, externalId: ExternalIdPath, principal: ReadInstances, session: ReadSession
) -> Response:
    return json_response(
        instance_resource_out(sync.linked_instance(session, principal, adapter, externalId))
    )


@router.patch("/integration/{adapter}/instance/{externalId}")
def upsert_instance_by_record(
    adapter: AdapterPath,
    externalId: ExternalIdPath,
    body: InstanceUpsertIn,
    principal: WriteInstances,
    session: WriteSession,
) -> Response:
    """Create the instance linked to the record, or update it (and its link)."""
    linked = sync.upsert_instance(session, principal, adapter, externalId, body.change())
    return json_response(instance_resource_out(linked))
