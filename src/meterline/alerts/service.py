"""Alert setting rules: create, read, search, update, delete; the state of wallets; the
alert log.

One published setting per entity (409 for a second). A setting watches a wallet, a
subscription, a subscription line item or an entitlement (``models.ENTITY_TYPES``); the
entity must exist in the caller's environment. A line item's parent is its subscription
(filled in when omitted, 400 when another one is named). A wallet's state is also read from
its credit balance whenever the wallet is read (its ``alert_state``), so it is never stale.
Deleting archives the setting. Firing: ``evaluate.py`` and ``job.py``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from meterline.accounts.principal import Principal
from meterline.alerts import job, repository, thresholds
from meterline.alerts.models import ENTITY_TYPES, PARENT_ENTITY_TYPES, AlertLog, AlertSetting
from meterline.db.rows import existing
from meterline.entitlements import service as entitlements
from meterline.kernel.errors import AlreadyExists, InvalidRequest, NotFound
from meterline.subscriptions import service as subscriptions
from meterline.subscriptions.models import SubscriptionLineItem
from meterline.wallets import service as wallets


def _choice(value: str | None, allowed: tuple[str, ...], field: str) -> None:
    if value is not None and value not in allowed:
        raise InvalidRequest(
            f"{field} must be one of {', '.join(allowed)}",
            field=field,
            details={"allowed_values": list(allowed), "provided_value": value},
        )


def create_setting(
    session: Session,
    principal: Principal,
    *,
    entity_type: str,
    entity_id: str,
    config: thresholds.Config,
    parent_entity_type: str | None = None,
    parent_entity_id: str | None = None,
) -> AlertSetting:
    _choice(entity_type, ENTITY_TYPES, "entity_type")
    _choice(parent_entity_type, PARENT_ENTITY_TYPES, "parent_entity_type")
    if (parent_entity_type is None) != (parent_entity_id is None):
        field = "parent_entity_id" if parent_entity_id is None else "parent_entity_type"
        raise InvalidRequest("parent_entity_type and parent_entity_id go together", field=field)
    thresholds.checked(config, entity_type)
    entity_id, parent_entity_type, parent_entity_id = _watched(
        session, principal, entity_type, entity_id, parent_entity_type, parent_entity_id
    )
    if repository.of_entities(session, principal.environment_id, entity_type, [entity_id]):
        raise AlreadyExists(
            f"the {entity_type} already has alert settings", details={"entity_id": entity_id}
        )
    setting = AlertSetting(
        environment_id=principal.environment_id,
        entity_type=entity_type,
        entity_id=entity_id,
        parent_entity_type=parent_entity_type,
        parent_entity_id=parent_entity_id,
        config=config.stored(),
        enabled=config.enabled,
        created_by=principal.user_id,
        updated_by=principal.user_id,
    )
    session.add(setting)
    session.flush()
    job.changed(session)
    return setting


def _watched(
    session: Session,
    principal: Principal,
    entity_type: str,
    entity_id: str,
    parent_type: str | None,
    parent_id: str | None,
) -> tuple[str, str | None, str | None]:
    """The watched entity's id and parent, checked to exist in the caller's environment."""
    if entity_type == "wallet":
        return wallets.get_wallet(session, principal, entity_id).id, parent_type, parent_id
    if entity_type == "subscription":
        if parent_type is not None:
            raise InvalidRequest("a subscription alert has no parent", field="parent_entity_type")
        return subscriptions.get_subscription(session, principal, entity_id).id, None, None
    if entity_type == "subscription_line_item":
        item = session.get(SubscriptionLineItem, entity_id)
        if (
            item is None
            or item.environment_id != principal.environment_id
            or (item.status != "published")
        ):
            raise NotFound("subscription line item", entity_id)
        if parent_type not in (None, "subscription"):
            raise InvalidRequest(
                "a line item's parent is its subscription", field="parent_entity_type"
            )
        if parent_id is not None and parent_id != item.subscription_id:
            raise InvalidRequest(
                "parent_entity_id must be the line item's subscription",
                field="parent_entity_id",
                details={"subscription_id": item.subscription_id},
            )
        return item.id, "subscription", item.subscription_id
    grant = entitlements.get_entitlement(session, principal, entity_id)
    return grant.id, parent_type, parent_id


def get_setting(session: Session, principal: Principal, setting_id: str) -> AlertSetting:
    found = repository.get(session, principal.environment_id, setting_id)
    return existing(found, "alert settings", setting_id)


def update_setting(
    session: Session, principal: Principal, setting_id: str, config: thresholds.Config
) -> AlertSetting:
    """Replaces the setting's config whole."""
    setting = get_setting(session, principal, setting_id)
    thresholds.checked(config, setting.entity_type)
    setting.config = config.stored()
    setting.enabled = config.enabled
    setting.updated_by = principal.user_id
    session.flush()
    job.changed(session)
    return setting


def delete_setting(session: Session, principal: Principal, setting_id: str) -> None:
    setting = get_setting(session, principal, setting_id)
    setting.status = "archived"
    setting.updated_by = principal.user_id
    session.flush()
    job.changed(session)


def search_settings(
    session: Session,
    principal: Principal,
    q: repository.SettingQuery,
    *,
    limit: int,
    offset: int,
    sort: Sequence[Any] | str | None = None,
    order: str | None = None,
) -> tuple[list[AlertSetting], int]:
    return repository.search(
        session, principal.environment_id, q, limit=limit, offset=offset, sort=sort, order=order
    )


def wallet_alerts(
    session: Session, environment_id: str, balances: Mapping[str, Decimal]
) -> dict[str, tuple[str, dict[str, Any] | None]]:
    """Wallet id → (its alert state at the given credit balance, its settings' config);
    ``("ok", None)`` without settings. One query."""
    settings = repository.of_entities(session, environment_id, "wallet", list(balances))
    out: dict[str, tuple[str, dict[str, Any] | None]] = {}
    for wallet_id, balance in balances.items():
        setting = settings.get(wallet_id)
        if setting is None:
            out[wallet_id] = ("ok", None)
        else:
            config = thresholds.loaded(setting.config)
            out[wallet_id] = (thresholds.state(config, balance), setting.config)
    return out


def put_wallet_setting(
    session: Session, principal: Principal, wallet_id: str, config: thresholds.Config
) -> AlertSetting:
    """The wallet's settings set to ``config``: its existing setting updated, or a new one
    (a wallet body's ``alert_settings``)."""
    existing_ones = repository.of_entities(session, principal.environment_id, "wallet", [wallet_id])
    if wallet_id in existing_ones:
        return update_setting(session, principal, existing_ones[wallet_id].id, config)
    return create_setting(
        session, principal, entity_type="wallet", entity_id=wallet_id, config=config
    )


def wallets_with_enabled_alerts(session: Session, principal: Principal) -> list[str]:
    return repository.enabled_entity_ids(session, principal.environment_id, "wallet")


def search_log(
    session: Session,
    principal: Principal,
    q: repository.LogQuery,
    *,
    limit: int,
    offset: int,
    sort: Sequence[Any] | str | None = None,
    order: str | None = None,
) -> tuple[list[AlertLog], int]:
    """The alert log of the caller's environment: one row per change of a setting's state."""
    return repository.search_log(
        session, principal.environment_id, q, limit=limit, offset=offset, sort=sort, order=order
    )
