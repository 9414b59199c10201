"""Instances (self-hosted deployments) and their signed offline license files."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from meterline.accounts.principal import Principal
from meterline.customers import service as customers
from meterline.customers.models import Customer
from meterline.db.base import utcnow
from meterline.db.rows import existing, in_environment
from meterline.kernel.errors import AlreadyExists, Conflict, InvalidRequest, NotFound
from meterline.licensing import audit, integrations, license_file, repository, zones
from meterline.licensing.catalog import entitlement_types
from meterline.licensing.common import actor, flush_unique, slug_of
from meterline.licensing.distribution_models import DeploymentZone
from meterline.licensing.grants import granted_value
from meterline.licensing.integration_models import Integration
from meterline.licensing.integrations import LinkTerms
from meterline.licensing.metadata_fields import validate_metadata
from meterline.licensing.models import Instance, License
from meterline.licensing.values import overage_percent_of


@dataclass(frozen=True)
class InstanceView:
    instance: Instance
    customer: Customer
    license: License
    zone: DeploymentZone | None = None
    links: dict[str, Integration] = field(default_factory=dict)


def _view(session: Session, principal: Principal, instance: Instance) -> InstanceView:
    return _views(session, principal, [instance])[0]


def _views(session: Session, principal: Principal, rows: list[Instance]) -> list[InstanceView]:
    customers_by_id = repository.customers_of(session, sorted({r.customer_id for r in rows}))
    licenses_by_id = repository.licenses_of(session, sorted({r.license_id for r in rows}))
    zone_ids = sorted({r.deployment_zone_id for r in rows if r.deployment_zone_id})
    zones_by_id = zones.zones_of(session, zone_ids)
    links = integrations.links_of(session, principal, "instance", [r.id for r in rows])
    return [
        InstanceView(
            r,
            customers_by_id[r.customer_id],
            licenses_by_id[r.license_id],
            zones_by_id.get(r.deployment_zone_id) if r.deployment_zone_id else None,
            links.get(r.id, {}),
        )
        for r in rows
    ]


def get_instance(session: Session, principal: Principal, slug: str) -> Instance:
    instance = repository.instance_by_slug(session, principal.environment_id, slug)
    return existing(instance, "instance", slug)


def instance_view(session: Session, principal: Principal, slug: str) -> InstanceView:
    return _view(session, principal, get_instance(session, principal, slug))


def instance_by_id(session: Session, principal: Principal, instance_id: str) -> InstanceView:
    found = in_environment(session, Instance, principal.environment_id, Instance.id == instance_id)
    return _view(session, principal, existing(found, "instance", instance_id))


def list_instances(
    session: Session, principal: Principal, limit: int, offset: int
) -> list[InstanceView]:
    rows = repository.page(session, repository.instances(principal.environment_id), limit, offset)
    return _views(session, principal, rows)


@dataclass(frozen=True)
class InstanceTerms:
    """What creating an instance, or replacing it whole, states about it."""

    name: str
    description: str
    customer_id: str
    license_id: str
    start_license_date: datetime
    end_license_date: datetime
    deployment_zone_id: str | None = None
    metadata: dict[str, Any] | None = None


def _assignable(
    session: Session,
    principal: Principal,
    terms: InstanceTerms,
    current_license_id: str | None = None,
) -> tuple[Customer, License]:
    """The customer and license ``terms`` name, if the instance may run under them."""
    customer_id, license_id = terms.customer_id, terms.license_id
    customer = customers.get_customer(session, principal, customer_id)
    if customer.status != "published":
        raise NotFound("customer", customer_id)
    lic = repository.license_by_id(session, principal.environment_id, license_id)
    found = existing(lic, "license", license_id)
    if found.lifecycle_state == "ARCHIVED" and found.id != current_license_id:
        raise Conflict(
            f"The license {found.slug} is archived and cannot be assigned",
            reason="license_archived",
        )
    if terms.deployment_zone_id is not None:
        zones.zone_by_id(session, principal.environment_id, terms.deployment_zone_id)
    validate_metadata(session, principal.environment_id, "INSTANCE", terms.metadata)
    if terms.end_license_date < terms.start_license_date:
        raise InvalidRequest(
            "the license ends before it starts",
            field="end_license_date",
            reason="ends_before_start",
        )
    return customer, found


def create_instance(
    session: Session,
    principal: Principal,
    terms: InstanceTerms,
    *,
    slug: str | None,
    links: Mapping[str, LinkTerms] | None = None,
) -> InstanceView:
    """A new instance; ``links`` are its integrations, by adapter name."""
    customer, found = _assignable(session, principal, terms)
    slug = slug or slug_of(terms.name)
    if repository.instance_by_slug(session, principal.environment_id, slug) is not None:
        raise AlreadyExists(f"An instance with the slug {slug} already exists")
    created = Instance(
        environment_id=principal.environment_id,
        slug=slug,
        name=terms.name,
        description=terms.description,
        customer_id=customer.id,
        license_id=found.id,
        start_license_date=terms.start_license_date,
        end_license_date=terms.end_license_date,
        metadata_=terms.metadata or {},
        deployment_zone_id=terms.deployment_zone_id,
        created_by=actor(principal),
        updated_by=actor(principal),
    )
    session.add(created)
    flush_unique(session, "the instance")
    audit.record(
        session, principal, "INSTANCE_CREATED", instance=created, payload={"name": created.name}
    )
    integrations.add_links(session, principal, "instance", created.id, links)
    return _view(session, principal, created)


def update_instance(
    session: Session,
    principal: Principal,
    slug: str,
    terms: InstanceTerms,
    *,
    new_slug: str | None,
) -> None:
    """A full replacement; an omitted slug keeps the current one, a new one renames."""
    found = get_instance(session, principal, slug)
    customer, lic = _assignable(session, principal, terms, current_license_id=found.license_id)
    if new_slug and new_slug != found.slug:
        if repository.instance_by_slug(session, principal.environment_id, new_slug) is not None:
            raise AlreadyExists(f"An instance with the slug {new_slug} already exists")
        found.slug = new_slug
    found.name = terms.name
    found.description = terms.description
    found.customer_id = customer.id
    found.license_id = lic.id
    found.start_license_date = terms.start_license_date
    found.end_license_date = terms.end_license_date
    found.metadata_ = terms.metadata or {}
    if terms.deployment_zone_id is not None:  # an omitted zone keeps the current one
        found.deployment_zone_id = terms.deployment_zone_id
    found.updated_by = actor(principal)
    flush_unique(session, "the instance")
    audit.record(
        session, principal, "INSTANCE_UPDATED", instance=found, payload={"name": found.name}
    )


def patch_instance(
    session: Session,
    principal: Principal,
    slug: str,
    *,
    status: str | None,
    lifecycle_stage: str | None,
) -> None:
    found = get_instance(session, principal, slug)
    if status is not None:
        previous, found.status = found.status, status
        audit.record(
            session,
            principal,
            "INSTANCE_STATUS_CHANGED",
            instance=found,
            payload={"previousStatus": previous, "status": status},
        )
    if lifecycle_stage is not None:
        stage, found.lifecycle_stage = found.lifecycle_stage, lifecycle_stage
        audit.record(
            session,
            principal,
            "INSTANCE_LIFECYCLE_STAGE_CHANGED",
            instance=found,
            payload={"previousLifecycleStage": stage, "lifecycleStage": lifecycle_stage},
        )
    found.updated_by = actor(principal)
    session.flush()


def delete_instance(session: Session, principal: Principal, slug: str) -> None:
    found = get_instance(session, principal, slug)
    audit.record(
        session, principal, "INSTANCE_DELETED", instance=found, payload={"name": found.name}
    )
    repository.delete_instance(session, found.id)
    session.flush()


# --- offline license files ---------------------------------------------------------------


def signing_key(session: Session, principal: Principal) -> Any:
    """The environment's Ed25519 private key, created on first use."""
    pem = repository.signing_key(session, principal.environment_id)
    if pem is None:
        repository.store_signing_key_if_missing(
            session, principal.environment_id, license_file.new_private_key_pem()
        )
        pem = repository.signing_key(session, principal.environment_id)
        assert pem is not None
    return license_file.load_private_key(pem)


@dataclass(frozen=True)
class PublicKey:
    key_id: str
    pem: str
    raw: bytes


def public_key(session: Session, principal: Principal) -> PublicKey:
    key = signing_key(session, principal).public_key()
    return PublicKey(
        license_file.key_id(key), license_file.public_key_pem(key), license_file.public_key_raw(key)
    )


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _number(value: Any) -> Any:
    """Decimals as JSON numbers without a float in between: integral ones as int."""
    if value is None:
        return None
    as_int = int(value)
    return as_int if as_int == value else str(value)


def issue_license_file(session: Session, principal: Principal, slug: str) -> str:
    """The instance's signed license file: customer, license, grants and validity."""
    key = signing_key(session, principal)
    payload = {
        "format": license_file.FORMAT,
        "keyId": license_file.key_id(key.public_key()),
        "issuedAt": _iso(utcnow()),
        **license_terms(session, principal, get_instance(session, principal, slug)),
    }
    return license_file.sign(payload, key)


def license_terms(session: Session, principal: Principal, found: Instance) -> dict[str, Any]:
    """What a license file (v1 and v2) says of an instance: customer, license, grants and
    validity dates."""
    view = _view(session, principal, found)
    grants = []
    pairs = repository.all_grants_of(session, view.license.id)
    types = entitlement_types(session, [f for _, f in pairs])
    for granted, feature in pairs:
        kind = types[feature.id]
        value = granted_value(kind, granted)
        grants.append(
            {
                "entitlementSlug": feature.lookup_key,
                "entitlementName": feature.name,
                "entitlementType": kind,
                "value": {
                    "type": value.kind,
                    "value": _number(value.value) if value.kind == "number" else value.value,
                },
                "limitCapExceededOveragePercent": overage_percent_of(
                    kind, granted.usage_limit, granted.overage_percent
                ),
                "aggregationMethod": feature.usage_aggregation,
                "resetPeriod": feature.usage_reset_period,
                "resetAnchor": feature.usage_reset_anchor,
            }
        )
    instance, customer, lic = view.instance, view.customer, view.license
    return {
        "environmentId": principal.environment_id,
        "validFrom": _iso(instance.start_license_date),
        "validUntil": _iso(instance.end_license_date),
        "instance": {"id": instance.id, "slug": instance.slug, "name": instance.name},
        "customer": {
            "id": customer.id,
            "slug": customer.slug,
            "name": customer.name,
            "externalCustomerId": customer.api_external_id,
        },
        "license": {
            "id": lic.id,
            "slug": lic.slug,
            "name": lic.name,
            "type": lic.type,
            "version": str(lic.version),
            "lifecycleState": lic.lifecycle_state,
        },
        "grants": grants,
    }
