"""Alert setting rules: create, read, search, update, delete; the state of wallets.

One published setting per entity (409 for a second). Only wallets can be watched
(``entity_type: wallet``); the state is read from the wallet's credit balance whenever the
wallet is read (its ``alert_state``), so it is never stale. Deleting archives the setting.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from meterline.accounts.principal import Principal
from meterline.alerts import repository, thresholds
from meterline.alerts.models import ENTITY_TYPES, PARENT_ENTITY_TYPES, AlertSetting
from meterline.db.rows import existing
from meterline.kernel.errors import AlreadyExists, InvalidRequest
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
    wallet = wallets.get_wallet(session, principal, entity_id)
    if repository.of_entities(session, principal.environment_id, entity_type, [wallet.id]):
        raise AlreadyExists(
            "the wallet already has alert settings", details={"entity_id": wallet.id}
        )
    setting = AlertSetting(
        environment_id=principal.environment_id,
        entity_type=entity_type,
        entity_id=wallet.id,
        parent_entity_type=parent_entity_type,
        parent_entity_id=parent_entity_id,
        config=config.stored(),
        enabled=config.enabled,
        created_by=principal.user_id,
        updated_by=principal.user_id,
    )
    session.add(setting)
    session.flush()
    return setting


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
    return setting


def delete_setting(session: Session, principal: Principal, setting_id: str) -> None:
    setting = get_setting(session, principal, setting_id)
    setting.status = "archived"
    setting.updated_by = principal.user_id
    session.flush()


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
