"""Credit grant rules: create, read, list, update, delete (the application is ``apply.py``).

Types are settled at the wire (``api/flexprice/credit_grants.py``); this module checks the
values: choices, the references (plan, subscription), and the combinations (a RECURRING
grant has a period, a DURATION expiry a duration and unit, an end after the start).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from meterline.accounts.principal import Principal
from meterline.addons import service as addons
from meterline.credits import repository
from meterline.credits.models import (
    CADENCES,
    EXPIRY_TYPES,
    EXPIRY_UNITS,
    PERIODS,
    SCOPES,
    CreditGrant,
    CreditGrantApplication,
)
from meterline.db.base import utcnow
from meterline.db.rows import existing
from meterline.kernel.errors import InvalidRequest
from meterline.kernel.unset import UNSET, Unset
from meterline.pricing import plans
from meterline.subscriptions import service as subscriptions


@dataclass(frozen=True)
class CreateGrant:
    name: str
    scope: str
    credits: Decimal
    cadence: str
    plan_id: str | None = None
    subscription_id: str | None = None
    addon_id: str | None = None
    period: str | None = None
    period_count: int | None = None
    expiration_type: str | None = None
    expiration_duration: int | None = None
    expiration_duration_unit: str | None = None
    priority: int | None = None
    start_date: datetime | None = None
    end_date: datetime | None = None
    metadata: dict[str, str] | None = None


@dataclass(frozen=True)
class UpdateGrant:
    name: str | Unset = UNSET
    metadata: dict[str, str] | Unset = UNSET
    end_date: datetime | Unset | None = UNSET


# The longest expiry per unit: about ten years.
MAX_EXPIRY = {"DAY": 3660, "WEEK": 523, "MONTH": 120, "YEAR": 10}


def _choice(value: str | None, allowed: tuple[str, ...], field: str) -> str | None:
    if value is not None and value not in allowed:
        raise InvalidRequest(
            f"{field} must be one of {', '.join(allowed)}",
            field=field,
            details={"allowed_values": list(allowed), "provided_value": value},
        )
    return value


def _check_window(start: datetime | None, end: datetime | None) -> None:
    if start is not None and end is not None and end <= start:
        raise InvalidRequest("end_date must be after start_date", field="end_date")


def create_grant(session: Session, principal: Principal, cmd: CreateGrant) -> CreditGrant:
    _choice(cmd.scope, SCOPES, "scope")
    _choice(cmd.cadence, CADENCES, "cadence")
    _choice(cmd.period, PERIODS, "period")
    expiration_type = _choice(cmd.expiration_type, EXPIRY_TYPES, "expiration_type") or "NEVER"
    _choice(cmd.expiration_duration_unit, EXPIRY_UNITS, "expiration_duration_unit")
    if not cmd.credits.is_finite() or cmd.credits <= 0:
        raise InvalidRequest("credits must be greater than 0", field="credits")
    if not cmd.name.strip():
        raise InvalidRequest("name is required", field="name")
    if cmd.cadence == "RECURRING" and cmd.period is None:
        raise InvalidRequest("a RECURRING grant needs a period", field="period")
    if cmd.cadence == "ONETIME" and (cmd.period is not None or cmd.period_count is not None):
        field = "period" if cmd.period is not None else "period_count"
        raise InvalidRequest("a ONETIME grant has no period", field=field)
    if expiration_type == "DURATION":
        if cmd.expiration_duration is None:
            raise InvalidRequest(
                "a DURATION expiry needs expiration_duration", field="expiration_duration"
            )
        if cmd.expiration_duration_unit is None:
            raise InvalidRequest(
                "a DURATION expiry needs expiration_duration_unit",
                field="expiration_duration_unit",
            )
        longest = MAX_EXPIRY[cmd.expiration_duration_unit]
        if cmd.expiration_duration > longest:
            raise InvalidRequest(
                f"expiration_duration is at most {longest} {cmd.expiration_duration_unit}s",
                field="expiration_duration",
                details={"max": longest},
            )
    elif cmd.expiration_duration is not None or cmd.expiration_duration_unit is not None:
        field = (
            "expiration_duration"
            if cmd.expiration_duration is not None
            else "expiration_duration_unit"
        )
        raise InvalidRequest("only a DURATION expiry takes a duration", field=field)
    _check_window(cmd.start_date, cmd.end_date)
    plan_id, subscription_id = cmd.plan_id, cmd.subscription_id
    if cmd.scope != "ADDON" and cmd.addon_id:
        raise InvalidRequest("only an ADDON grant has an addon_id", field="addon_id")
    if cmd.scope == "ADDON":
        if not cmd.addon_id:
            raise InvalidRequest("an ADDON grant needs addon_id", field="addon_id")
        for name, value in (("plan_id", plan_id), ("subscription_id", subscription_id)):
            if value:
                raise InvalidRequest(f"an ADDON grant has no {name}", field=name)
        addons.get_live_addon(session, principal, cmd.addon_id)
    elif cmd.scope == "PLAN":
        if not plan_id:
            raise InvalidRequest("a PLAN grant needs plan_id", field="plan_id")
        if subscription_id:
            raise InvalidRequest("a PLAN grant has no subscription_id", field="subscription_id")
        plans.get_plan(session, principal, plan_id)
    else:
        if not subscription_id:
            raise InvalidRequest(
                "a SUBSCRIPTION grant needs subscription_id", field="subscription_id"
            )
        sub = subscriptions.get_subscription(session, principal, subscription_id)
        if plan_id and plan_id != sub.plan_id:
            raise InvalidRequest("plan_id is not the subscription's plan", field="plan_id")
        plan_id = sub.plan_id
    grant = CreditGrant(
        environment_id=principal.environment_id,
        name=cmd.name,
        scope=cmd.scope,
        plan_id=plan_id,
        subscription_id=subscription_id,
        addon_id=cmd.addon_id,
        credits=cmd.credits,
        cadence=cmd.cadence,
        period=cmd.period,
        period_count=(cmd.period_count or 1) if cmd.cadence == "RECURRING" else None,
        expiration_type=expiration_type,
        expiration_duration=cmd.expiration_duration,
        expiration_duration_unit=cmd.expiration_duration_unit,
        priority=cmd.priority,
        start_date=cmd.start_date,
        end_date=cmd.end_date,
        metadata_=dict(cmd.metadata or {}),
        created_by=principal.user_id,
        updated_by=principal.user_id,
    )
    session.add(grant)
    session.flush()
    return grant


def get_grant(session: Session, principal: Principal, grant_id: str) -> CreditGrant:
    return existing(
        repository.get(session, principal.environment_id, grant_id), "credit grant", grant_id
    )


def list_grants(
    session: Session,
    principal: Principal,
    *,
    limit: int,
    offset: int,
    plan_ids: list[str] | None = None,
    subscription_ids: list[str] | None = None,
    scope: str | None = None,
) -> tuple[list[CreditGrant], int]:
    _choice(scope, SCOPES, "scope")
    return repository.search(
        session,
        principal.environment_id,
        limit=limit,
        offset=offset,
        plan_ids=plan_ids,
        subscription_ids=subscription_ids,
        scope=scope,
    )


def addon_grants(session: Session, principal: Principal, addon_id: str) -> list[CreditGrant]:
    """The add-on's grants (ADDON scope), newest first."""
    addon = addons.get_addon(session, principal, addon_id)
    return repository.search_addon_grants(session, principal.environment_id, addon.id, 1000)


def plan_grants(session: Session, principal: Principal, plan_id: str) -> list[CreditGrant]:
    """The plan's own grants (PLAN scope), newest first."""
    plans.get_plan(session, principal, plan_id)
    found, _total = repository.search(
        session, principal.environment_id, limit=1000, offset=0, plan_ids=[plan_id], scope="PLAN"
    )
    return found


def update_grant(
    session: Session, principal: Principal, grant_id: str, cmd: UpdateGrant
) -> CreditGrant:
    grant = get_grant(session, principal, grant_id)
    if not isinstance(cmd.name, Unset):
        if not cmd.name.strip():
            raise InvalidRequest("name must not be empty", field="name")
        grant.name = cmd.name
    if not isinstance(cmd.metadata, Unset):
        grant.metadata_ = dict(cmd.metadata)
    if not isinstance(cmd.end_date, Unset):
        _check_window(grant.start_date or grant.created_at, cmd.end_date)
        grant.end_date = cmd.end_date
    grant.updated_by = principal.user_id
    session.flush()
    return grant


def delete_grant(
    session: Session,
    principal: Principal,
    grant_id: str,
    *,
    effective_date: datetime | None = None,
    now: datetime | None = None,
) -> CreditGrant:
    """Stops the grant: nothing more is applied. Without ``effective_date`` the grant is
    archived at once; with it (SUBSCRIPTION scope only, as upstream) it ends then. Credits
    already applied stay in the wallet, with their own expiry."""
    grant = get_grant(session, principal, grant_id)
    if effective_date is not None:
        if grant.scope != "SUBSCRIPTION":
            raise InvalidRequest(
                "effective_date applies to SUBSCRIPTION grants only", field="effective_date"
            )
        if effective_date < (now or utcnow()):
            raise InvalidRequest("effective_date must not be in the past", field="effective_date")
        _check_window(grant.start_date or grant.created_at, effective_date)
        grant.end_date = effective_date
    else:
        grant.status = "deleted"
    grant.updated_by = principal.user_id
    session.flush()
    return grant


def applications(
    session: Session, principal: Principal, grant_id: str
) -> list[CreditGrantApplication]:
    grant = get_grant(session, principal, grant_id)
    return repository.applications(session, principal.environment_id, grant.id)
