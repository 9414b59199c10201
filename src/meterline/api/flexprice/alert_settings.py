"""/v1 alert settings (``/alerts/setting``): create (201), get, search, update, delete (204),
on wallets, subscriptions, subscription line items and entitlements; and the alert log
(``/alerts/search``, a read by POST): one row per change of a setting's state."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import Field
from starlette.responses import Response

from meterline.alerts import repository, thresholds
from meterline.alerts import service as alerts
from meterline.alerts.models import ENTITY_TYPES, AlertLog, AlertSetting
from meterline.api.deps import ReadSession, Vendor, VendorRead, WriteSession
from meterline.api.flexprice.common import WireModel, list_response
from meterline.api.flexprice.filters import FilterQuery, refuse_expand
from meterline.api.json import iso, json_response
from meterline.kernel import money
from meterline.kernel.errors import InvalidRequest

router = APIRouter(tags=["alert settings"])


class ThresholdIn(WireModel):
    condition: str | None = Field(default=None, max_length=10)
    threshold: money.Amount | None = None


class AlertConfigIn(WireModel):
    alert_enabled: bool = True
    alert_threshold_type: str = Field(default="absolute", max_length=20)
    critical: ThresholdIn | None = None
    warning: ThresholdIn | None = None
    info: ThresholdIn | None = None

    def config(self) -> thresholds.Config:
        levels = {}
        for name in thresholds.LEVELS:
            level: ThresholdIn | None = getattr(self, name)
            if level is None:
                continue
            if level.condition is None or level.threshold is None:
                missing = "condition" if level.condition is None else "threshold"
                raise InvalidRequest(
                    f"config.{name}.{missing} is required", field=f"config.{name}.{missing}"
                )
            levels[name] = thresholds.Level(level.condition, level.threshold)
        return thresholds.Config(self.alert_enabled, self.alert_threshold_type, levels)


class AlertSettingIn(WireModel):
    config: AlertConfigIn
    entity_type: str = Field(max_length=30)
    entity_id: str = Field(max_length=64)
    parent_entity_type: str | None = Field(default=None, max_length=30)
    parent_entity_id: str | None = Field(default=None, max_length=255)


class AlertSettingUpdate(WireModel):
    config: AlertConfigIn


class AlertSettingSearch(FilterQuery):
    UNSUPPORTED = ("filters",)

    enabled: bool | None = None
    entity_id: str | None = Field(default=None, max_length=64)
    entity_ids: list[str] | None = Field(default=None, max_length=1000)
    entity_type: str | None = Field(default=None, max_length=30)
    parent_entity_id: str | None = Field(default=None, max_length=255)
    parent_entity_ids: list[str] | None = Field(default=None, max_length=1000)
    parent_entity_type: str | None = Field(default=None, max_length=30)


def setting_out(setting: AlertSetting) -> dict[str, Any]:
    return {
        "id": setting.id,
        "entity_type": setting.entity_type,
        "entity_id": setting.entity_id,
        "parent_entity_type": setting.parent_entity_type,
        "parent_entity_id": setting.parent_entity_id,
        "config": setting.config,
        "enabled": setting.enabled,
        "environment_id": setting.environment_id,
        "tenant_id": None,
        "status": setting.status,
        "created_at": iso(setting.created_at),
        "updated_at": iso(setting.updated_at),
        "created_by": setting.created_by,
        "updated_by": setting.updated_by,
    }


@router.post("/alerts/setting", status_code=201, summary="Create alert settings")
def create_setting(body: AlertSettingIn, principal: Vendor, session: WriteSession) -> Response:
    setting = alerts.create_setting(
        session,
        principal,
        entity_type=body.entity_type,
        entity_id=body.entity_id,
        config=body.config.config(),
        parent_entity_type=body.parent_entity_type,
        parent_entity_id=body.parent_entity_id,
    )
    return json_response(setting_out(setting), 201)


@router.post("/alerts/setting/search", summary="Search alert settings")
def search_settings(
    body: AlertSettingSearch, principal: VendorRead, session: ReadSession
) -> Response:
    refuse_expand(body.expand)
    entity_ids = [*(body.entity_ids or []), *([body.entity_id] if body.entity_id else [])]
    parent_ids = [
        *(body.parent_entity_ids or []),
        *([body.parent_entity_id] if body.parent_entity_id else []),
    ]
    q = repository.SettingQuery(
        enabled=body.enabled,
        entity_type=body.entity_type,
        entity_ids=entity_ids or None,
        parent_entity_type=body.parent_entity_type,
        parent_entity_ids=parent_ids or None,
        start_time=body.start_time,
        end_time=body.end_time,
        status=body.status,
    )
    found, total = alerts.search_settings(
        session,
        principal,
        q,
        limit=body.limit,
        offset=body.offset,
        sort=body.sort,
        order=body.order,
    )
    return list_response([setting_out(s) for s in found], total, body)


@router.get("/alerts/setting/{setting_id}", summary="Get alert settings")
def get_setting(setting_id: str, principal: Vendor, session: ReadSession) -> Response:
    return json_response(setting_out(alerts.get_setting(session, principal, setting_id)))


@router.put("/alerts/setting/{setting_id}", summary="Update alert settings")
def update_setting(
    setting_id: str, body: AlertSettingUpdate, principal: Vendor, session: WriteSession
) -> Response:
    setting = alerts.update_setting(session, principal, setting_id, body.config.config())
    return json_response(setting_out(setting))


@router.delete(
    "/alerts/setting/{setting_id}",
    status_code=204,
    response_class=Response,
    summary="Delete alert settings",
)
def delete_setting(setting_id: str, principal: Vendor, session: WriteSession) -> Response:
    alerts.delete_setting(session, principal, setting_id)
    return Response(status_code=204)


ALERT_STATES = ("ok", "info", "warning", "in_alarm")


class AlertLogSearch(FilterQuery):
    UNSUPPORTED = ("filters",)

    alert_status: str | None = Field(default=None, max_length=20)
    alert_type: str | None = Field(default=None, max_length=40)
    customer_id: str | None = Field(default=None, max_length=64)
    entity_id: str | None = Field(default=None, max_length=64)
    entity_type: str | None = Field(default=None, max_length=30)


def log_out(row: AlertLog) -> dict[str, Any]:
    return {
        "id": row.id,
        "entity_type": row.entity_type,
        "entity_id": row.entity_id,
        "parent_entity_type": row.parent_entity_type,
        "parent_entity_id": row.parent_entity_id,
        "customer_id": row.customer_id,
        "alert_type": row.alert_type,
        "alert_status": row.alert_status,
        "alert_info": {
            "alert_settings": row.config,
            "timestamp": iso(row.created_at),
            "value_at_time": iso(row.created_at),
        },
        "environment_id": row.environment_id,
        "tenant_id": None,
        "status": "published",
        "created_at": iso(row.created_at),
        "updated_at": iso(row.created_at),
        "created_by": None,
        "updated_by": None,
    }


@router.post("/alerts/search", summary="Query the alert log")
def query_alert_log(body: AlertLogSearch, principal: VendorRead, session: ReadSession) -> Response:
    refuse_expand(body.expand)
    if body.alert_status is not None and body.alert_status not in ALERT_STATES:
        raise InvalidRequest(
            f"alert_status must be one of {', '.join(ALERT_STATES)}", field="alert_status"
        )
    if body.entity_type is not None and body.entity_type not in ENTITY_TYPES:
        raise InvalidRequest(
            f"entity_type must be one of {', '.join(ENTITY_TYPES)}", field="entity_type"
        )
    if body.status not in (None, "published"):  # log rows are never archived
        return list_response([], 0, body)
    q = repository.LogQuery(
        alert_status=body.alert_status,
        alert_type=body.alert_type,
        customer_id=body.customer_id,
        entity_id=body.entity_id,
        entity_type=body.entity_type,
        start_time=body.start_time,
        end_time=body.end_time,
    )
    found, total = alerts.search_log(
        session,
        principal,
        q,
        limit=body.limit,
        offset=body.offset,
        sort=body.sort,
        order=body.order,
    )
    return list_response([log_out(row) for row in found], total, body)
