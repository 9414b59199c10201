"""GET /v1/usage: a customer reads its own usage with its own key."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from meterline.api.deps import ReadSession, authenticate_request
from meterline.api.json import json_response
from meterline.customers import service as customers
from meterline.kernel.errors import InvalidRequest, PermissionDenied
from meterline.kernel.instants import RANGE_TEXT
from meterline.metering.report import build_report

router = APIRouter(tags=["usage report"])
_DATE_PARAMETER = f"An ISO-8601 date (whole day) or date-time; its UTC value {RANGE_TEXT}"


@router.get(
    "/usage",
    summary="Usage of the calling customer per day and metric",
    responses={400: {"description": "ErrorEnvelope"}, 401: {"description": "ErrorEnvelope"}},
)
def usage_report(
    request: Request,
    session: ReadSession,
    start_date: str | None = Query(
        default=None, alias="startDate", max_length=40, description=_DATE_PARAMETER
    ),
    end_date: str | None = Query(
        default=None, alias="endDate", max_length=40, description=_DATE_PARAMETER
    ),
    metric: str | None = Query(default=None, max_length=255),
    customer_id: str | None = Query(default=None, max_length=64),
    external_customer_id: str | None = Query(default=None, max_length=255),
) -> Response:
    principal = authenticate_request(request)
    if principal.is_customer_scoped:
        external = principal.customer_external_id
        if external_customer_id and external_customer_id != external:
            raise PermissionDenied("This key may only read its own customer's usage")
        if (
            customer_id
            and customers.get_customer(session, principal, customer_id).external_id != external
        ):
            raise PermissionDenied("This key may only read its own customer's usage")
    elif not principal.may("read", "billing"):
        raise PermissionDenied("This key lacks the read:billing scope")
    elif customer_id:
        external = customers.get_customer(session, principal, customer_id).external_id
    elif external_customer_id:
        external = external_customer_id
    else:
        raise InvalidRequest(
            "a vendor key must name the customer with customer_id or external_customer_id",
            details={"code": "missing_customer"},
        )
    assert external is not None
    report = build_report(session, principal, external, start_date, end_date, metric)
    return json_response(
        {
            "startDate": report.start_date,
            "endDate": report.end_date,
            "data": [
                {"period": r.period, "metricType": r.metric, "value": r.value} for r in report.rows
            ],
            "totals": report.totals,
        }
    )
