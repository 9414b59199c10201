"""Cloning an environment's catalog into another (the SDK's
``environments.clone_environment``).

What is copied: the published meters, features, plans, the plans' prices, the plans'
entitlements, coupons and tax rates. Each copy gets a new id; its lookup key (features,
plans, prices), code (coupons, tax rates) and every other field are kept; references
between copied rows (a feature's meter, a price's plan and meter, an entitlement's plan and
feature) point at the copies. Not copied: customers, subscriptions and what hangs from them
(subscription prices and grants, coupon associations, invoices), events, keys, webhooks,
licensing. A coupon's redemption count starts again at 0.

The target is an existing environment of the organization or a new one. If the target
already holds a published row with one of the keys being copied, nothing is copied and the
answer is 409 listing every such key by kind. The whole copy is one transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from meterline.accounts import service as accounts
from meterline.accounts.models import Environment
from meterline.accounts.principal import Principal
from meterline.catalog.models import Feature, Meter
from meterline.db.base import new_id, utcnow
from meterline.db.rows import Published, published_of_environment
from meterline.discounts.models import Coupon
from meterline.entitlements.models import Entitlement
from meterline.kernel.errors import Conflict, InvalidRequest, PermissionDenied
from meterline.pricing.models import Plan, Price
from meterline.taxes.models import TaxRate

# A catalog is hundreds of rows, not millions; past this many of one kind the clone is
# refused rather than run as one enormous transaction.
MAX_ROWS_PER_KIND = 10_000
# The column that identifies a row across environments, per kind.
KEYS: dict[str, tuple[type[Any], str]] = {
    "features": (Feature, "lookup_key"),
    "plans": (Plan, "lookup_key"),
    "prices": (Price, "lookup_key"),
    "coupons": (Coupon, "coupon_code"),
    "tax_rates": (TaxRate, "code"),
}
_SKIPPED = {"id", "environment_id", "created_at", "updated_at"}

_Row = TypeVar("_Row", bound=Published)


@dataclass
class CloneReport:
    source_environment_id: str
    target_environment_id: str
    copied: dict[str, int] = field(default_factory=dict)
    # kind → the lookup keys (or codes) copied
    keys: dict[str, list[str]] = field(default_factory=dict)


def _rows(session: Session, model: type[_Row], environment_id: str, kind: str) -> list[_Row]:
    found = published_of_environment(session, model, environment_id, MAX_ROWS_PER_KIND + 1)
    if len(found) > MAX_ROWS_PER_KIND:
        raise InvalidRequest(
            f"the source environment has more than {MAX_ROWS_PER_KIND} {kind}; clone refused"
        )
    return found


def _copy(row: Any, environment_id: str, now: Any, **changes: Any) -> Any:
    model = type(row)
    values = {
        attr.key: getattr(row, attr.key)
        for attr in model.__mapper__.column_attrs
        if attr.key not in _SKIPPED
    }
    prefix = row.id.split("_", 1)[0]
    values.update(id=new_id(prefix), environment_id=environment_id, created_at=now, updated_at=now)
    values.update(changes)
    return model(**values)


def _target(
    session: Session,
    principal: Principal,
    source_id: str,
    target_id: str | None,
    name: str | None,
    env_type: str | None,
) -> Environment:
    if target_id:
        if target_id == source_id:
            raise InvalidRequest(
                "target_environment_id must differ from the source", field="target_environment_id"
            )
        if not principal.reaches(target_id):
            raise PermissionDenied("Only a key with full access may clone into another environment")
        return accounts.get_environment(session, principal, target_id)
    if not name or not name.strip():
        raise InvalidRequest("name is required without target_environment_id", field="name")
    if not env_type:
        raise InvalidRequest("type is required without target_environment_id", field="type")
    return accounts.create_environment(session, principal, name.strip(), env_type)


def _conflicts(
    session: Session, target_id: str, source: dict[str, list[Any]]
) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for kind, (model, column) in KEYS.items():
        wanted = {getattr(r, column) for r in source[kind] if getattr(r, column)}
        if not wanted:
            continue
        present = {
            getattr(r, column)
            for r in _rows(session, model, target_id, kind)
            if getattr(r, column) in wanted
        }
        if present:
            out[kind] = sorted(present)
    return out


def clone_environment(
    session: Session,
    principal: Principal,
    source_id: str,
    *,
    target_id: str | None,
    name: str | None,
    env_type: str | None,
) -> CloneReport:
    if not principal.reaches(source_id):
        raise PermissionDenied("Only a key with full access may clone another environment")
    source_env = accounts.get_environment(session, principal, source_id)
    source: dict[str, list[Any]] = {
        "meters": _rows(session, Meter, source_env.id, "meters"),
        "features": _rows(session, Feature, source_env.id, "features"),
        "plans": _rows(session, Plan, source_env.id, "plans"),
        "prices": [
            p for p in _rows(session, Price, source_env.id, "prices") if p.entity_type == "PLAN"
        ],
        "entitlements": [
            e
            for e in _rows(session, Entitlement, source_env.id, "entitlements")
            if e.entity_type == "PLAN"
        ],
        "coupons": _rows(session, Coupon, source_env.id, "coupons"),
        "tax_rates": _rows(session, TaxRate, source_env.id, "tax rates"),
    }
    target = _target(session, principal, source_env.id, target_id, name, env_type)
    conflicts = _conflicts(session, target.id, source)
    if conflicts:
        raise Conflict(
            "The target environment already holds these lookup keys: "
            + "; ".join(f"{kind}: {', '.join(keys)}" for kind, keys in conflicts.items()),
            reason="lookup_keys_exist",
            details={"existing": conflicts},
        )
    now = utcnow()
    ids: dict[str, str] = {}

    def add(rows: Iterable[Any], **remap: str) -> list[Any]:
        made = []
        for row in rows:
            changes = {column: ids.get(getattr(row, column) or "") for column in remap}
            if any(changes[c] is None and getattr(row, c) for c in remap):
                continue  # refers to a row that is not copied (archived since)
            copy = _copy(row, target.id, now, **changes)
            ids[row.id] = copy.id
            made.append(copy)
        session.add_all(made)
        session.flush()
        return made

    report = CloneReport(source_env.id, target.id)
    copied = {
        "meters": add(source["meters"]),
        "features": add(source["features"], meter_id="meter_id"),
        "plans": add(source["plans"]),
        "prices": add(source["prices"], entity_id="entity_id", meter_id="meter_id"),
        "entitlements": add(source["entitlements"], entity_id="entity_id", feature_id="feature_id"),
        "coupons": add(source["coupons"]),
        "tax_rates": add(source["tax_rates"]),
    }
    for copy in copied["coupons"]:
        copy.total_redemptions = 0
    for copy in copied["prices"]:
        # A plan price's parent names the price a subscription override came from: none
        # worth carrying into another environment.
        copy.parent_price_id = None
    session.flush()
    for kind, rows in copied.items():
        report.copied[kind] = len(rows)
        if kind in KEYS:
            column = KEYS[kind][1]
            report.keys[kind] = sorted(getattr(r, column) for r in rows if getattr(r, column))
    return report
