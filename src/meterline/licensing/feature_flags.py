"""Feature flags of an environment: definitions by slug, the OpenFeature manifest, and the
evaluation of a flag for one instance or customer.

Definitions are checked by :func:`flag_rules.check` before they are stored, and stored in
their wire shape. The evaluation context a rule reads is the caller's, with the reserved
``__kaiten`` namespace filled here from the instance (or customer) it names: its license,
the license's family and entitlements, its customer and its deployment zone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from meterline.accounts.principal import Principal
from meterline.customers.models import Customer
from meterline.db.base import utcnow
from meterline.db.rows import existing, in_environment, of_environment
from meterline.kernel.errors import AlreadyExists, InvalidRequest
from meterline.licensing import flag_rules, repository
from meterline.licensing.catalog import entitlement_types
from meterline.licensing.common import actor, flush_unique, slug_of
from meterline.licensing.flag_models import FeatureFlag
from meterline.licensing.flag_rules import FlagDefinition, FlagType, Resolution, Rule, Serve
from meterline.licensing.grants import granted_value
from meterline.licensing.instances import InstanceView, instance_view

RESERVED = "__kaiten"


@dataclass(frozen=True)
class FlagTerms:
    """What creating a flag, or replacing it whole, states about it."""

    name: str
    type: FlagType
    variants: tuple[flag_rules.Variant, ...]
    default: Serve
    rules: tuple[Rule, ...] = ()
    enabled: bool = True
    description: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    event_name: str = ""


def _step_json(step: flag_rules.Step | None) -> dict[str, Any] | None:
    if step is None:
        return None
    at = step.at.isoformat().replace("+00:00", "Z")
    return {"variant": step.variant, "percentage": step.percentage, "date": at}


def serve_json(serve: Serve) -> dict[str, Any]:
    """A serve in its wire shape (a default variant's; a rule adds its name and rule)."""
    if serve.kind == "basic":
        return {"type": "basic", "value": serve.variant}
    if serve.kind == "rollout_percentage":
        return {"type": serve.kind, "distribution": dict(serve.distribution)}
    return {"type": serve.kind, "start": _step_json(serve.start), "end": _step_json(serve.end)}


def _step(data: dict[str, Any]) -> flag_rules.Step:
    at = datetime.fromisoformat(str(data["date"]).replace("Z", "+00:00"))
    return flag_rules.Step(str(data["variant"]), int(data["percentage"]), at)


def serve_of(data: dict[str, Any], variant_key: str = "value") -> Serve:
    """A stored serve (``variant_key`` holds a basic one's variant: ``value`` in a default,
    ``variant`` in a rule)."""
    kind = data["type"]
    if kind == "basic":
        return Serve("basic", variant=str(data[variant_key]))
    if kind == "rollout_percentage":
        return Serve(kind, distribution=tuple((k, int(w)) for k, w in data["distribution"].items()))
    return Serve("rollout_date", start=_step(data["start"]), end=_step(data["end"]))


def rule_json(rule: Rule) -> dict[str, Any]:
    body = serve_json(rule.serve)
    if rule.serve.kind == "basic":
        body = {"type": "basic", "variant": rule.serve.variant}
    return {**body, "name": rule.name, "rule": rule.expression}


def definition_of(flag: FeatureFlag) -> FlagDefinition:
    """The stored flag as :mod:`flag_rules` evaluates it."""
    kind: FlagType = flag.type  # type: ignore[assignment]  # checked on the way in
    return FlagDefinition(
        key=flag.slug,
        type=kind,
        enabled=flag.enabled,
        variants=tuple(
            flag_rules.Variant(v["name"], v["value"], v.get("description", ""))
            for v in flag.variants
        ),
        default=serve_of(flag.default_variant),
        rules=tuple(Rule(r["name"], r["rule"], serve_of(r, "variant")) for r in flag.targetings),
    )


def get_flag(session: Session, principal: Principal, slug: str) -> FeatureFlag:
    return existing(
        in_environment(session, FeatureFlag, principal.environment_id, FeatureFlag.slug == slug),
        "feature flag",
        slug,
    )


def list_flags(
    session: Session, principal: Principal, limit: int, offset: int
) -> list[FeatureFlag]:
    stmt = of_environment(FeatureFlag, principal.environment_id).order_by(FeatureFlag.id)
    return repository.page(session, stmt, limit, offset)


def _apply(principal: Principal, flag: FeatureFlag, terms: FlagTerms) -> None:
    flag_rules.check(
        FlagDefinition(
            key=flag.slug,
            type=terms.type,
            enabled=terms.enabled,
            variants=terms.variants,
            default=terms.default,
            rules=terms.rules,
        )
    )
    flag.name = terms.name
    flag.type = terms.type
    flag.enabled = terms.enabled
    flag.description = terms.description
    flag.metadata_ = terms.metadata
    flag.event_name = terms.event_name
    flag.variants = [
        {"name": v.name, "value": v.value, "description": v.description} for v in terms.variants
    ]
    flag.default_variant = serve_json(terms.default)
    flag.targetings = [rule_json(r) for r in terms.rules]
    flag.updated_by = actor(principal)


def create_flag(
    session: Session, principal: Principal, terms: FlagTerms, *, slug: str | None
) -> FeatureFlag:
    slug = slug or slug_of(terms.name)
    if in_environment(session, FeatureFlag, principal.environment_id, FeatureFlag.slug == slug):
        raise AlreadyExists(f"A feature flag with the slug {slug} already exists")
    created = FeatureFlag(
        environment_id=principal.environment_id, slug=slug, created_by=actor(principal)
    )
    _apply(principal, created, terms)
    session.add(created)
    flush_unique(session, "the feature flag")
    return created


def update_flag(session: Session, principal: Principal, slug: str, terms: FlagTerms) -> None:
    """A full replacement; the slug (the flag's key) stays."""
    found = get_flag(session, principal, slug)
    _apply(principal, found, terms)
    session.flush()


def delete_flag(session: Session, principal: Principal, slug: str) -> None:
    session.delete(get_flag(session, principal, slug))
    session.flush()


@dataclass(frozen=True)
class ManifestEntry:
    key: str
    type: str
    default_value: Any
    name: str
    description: str | None


def manifest(session: Session, principal: Principal) -> list[ManifestEntry]:
    """Every flag of the environment with its type and the value of its default variant
    (:func:`flag_rules.default_variant_name`), by key."""
    flags = session.scalars(
        of_environment(FeatureFlag, principal.environment_id).order_by(FeatureFlag.slug)
    ).all()
    entries = []
    for flag in flags:
        definition = definition_of(flag)
        values = {v.name: v.value for v in definition.variants}
        default = values[flag_rules.default_variant_name(definition)]
        entries.append(ManifestEntry(flag.slug, flag.type, default, flag.name, flag.description))
    return entries


def _plain(value: Any) -> Any:
    """A stored value as CEL reads it: whole decimals as ints, others as floats."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def _instance_namespace(session: Session, view: InstanceView) -> dict[str, Any]:
    instance, customer, lic, zone = view.instance, view.customer, view.license, view.zone
    pairs = repository.all_grants_of(session, lic.id)
    types = entitlement_types(session, [f for _, f in pairs])
    entitlements = {
        feature.lookup_key: _plain(granted_value(types[feature.id], granted).value)
        for granted, feature in pairs
    }
    family = repository.families_of(session, [lic.family_id]).get(lic.family_id)
    namespace: dict[str, Any] = {
        "instance": {
            "slug": instance.slug,
            "name": instance.name,
            "status": instance.status,
            "lifecycleStage": instance.lifecycle_stage or "",
            "metadata": instance.metadata_ or {},
        },
        "license": {
            "slug": lic.slug,
            "name": lic.name,
            "type": lic.type,
            "familySlug": family.slug if family else "",
            "version": lic.version,
            "entitlements": entitlements,
        },
        "customer": {"slug": customer.slug or "", "name": customer.name},
    }
    if zone is not None:
        namespace["deploymentZone"] = {"slug": zone.slug, "name": zone.name, "type": zone.type}
    return namespace


@dataclass(frozen=True)
class Subject:
    """Who a flag is evaluated for: the context rules read, and the key splits bucket on."""

    context: dict[str, Any]
    targeting_key: str


def _text(context: Mapping[str, Any], key: str, limit: int) -> str | None:
    value = context.get(key)
    if value is None or value == "":  # OFREP clients send "" for no targeting key
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise InvalidRequest(
            f"{key} is a string of up to {limit} characters",
            field=f"context.{key}",
            reason="invalid",
        )
    return value


def subject_of(session: Session, principal: Principal, context: Mapping[str, Any]) -> Subject:
    """The caller's context with ``__kaiten`` filled from the instance ``context.instance``
    names (404 when it is not the environment's), else from the customer
    ``context.targetingKey`` names (none when it names no customer). A caller's own
    ``__kaiten`` is refused: the namespace is the server's word on what the subject bought."""
    if RESERVED in context:
        raise InvalidRequest(
            f"{RESERVED} is filled by the server", field=f"context.{RESERVED}", reason="reserved"
        )
    targeting_key = _text(context, "targetingKey", 255)
    instance_slug = _text(context, "instance", 100)
    namespace: dict[str, Any] = {}
    if instance_slug is not None:
        namespace = _instance_namespace(session, instance_view(session, principal, instance_slug))
    elif targeting_key is not None:
        customer = in_environment(
            session, Customer, principal.environment_id, Customer.slug == targeting_key
        )
        if customer is not None:
            namespace = {"customer": {"slug": customer.slug or "", "name": customer.name}}
    return Subject({**context, RESERVED: namespace}, targeting_key or instance_slug or "")


def evaluate_flag(
    session: Session, principal: Principal, slug: str, subject: Subject, now: datetime | None = None
) -> Resolution:
    """The flag's resolution for ``subject`` at ``now`` (default: the present)."""
    definition = definition_of(get_flag(session, principal, slug))
    return flag_rules.evaluate(definition, subject.context, subject.targeting_key, now or utcnow())
