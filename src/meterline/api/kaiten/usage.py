"""GET and POST /api/instances/{i}/entitlements/{e}/usage: the licensing hot paths.

Fast routes (``api/fastpath.py``): FastAPI's dependency and validation machinery costs more
per request than everything else a report does here. The FastAPI routes of the same
operations in ``instances.py`` are the documented ones, and answer whatever these decline.

* A report's body is decoded by msgspec into the shape the contract allows and checked as
  the pydantic model checks it; anything else (a wrong type, an unknown field, a malformed
  document, another content type) is declined, and the FastAPI route refuses it with the
  model. The report then goes to the group-commit writer (``licensing/report_writer.py``),
  which answers once it is committed.
* A read is one indexed statement on a driver connection. On SQLite it runs on the event
  loop, on the loop's dedicated read connection, and its encoded answer is kept until
  anything is committed or the counter's window ends (``HotReads.kept``); on PostgreSQL it
  runs in a worker thread on a pooled connection.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

import msgspec
from pydantic import Field
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from meterline.api.deps import database
from meterline.api.fastpath import FastRoute
from meterline.api.free_json import FreeObject
from meterline.api.json import dumps, iso, json_response
from meterline.api.kaiten.common import Body, NumberValue, authorize, compact, typed_out
from meterline.api.kaiten.errors import problem
from meterline.api.kaiten.ids import wire_id
from meterline.api.kaiten.vocabulary import THRESHOLD_EXCEEDED
from meterline.api.limits import session_limiter
from meterline.entitlements.read_model import HotReads
from meterline.kernel import money
from meterline.kernel.errors import DomainError
from meterline.licensing import reporting
from meterline.licensing.report_writer import ReportWriter
from meterline.licensing.reporting import UsageReportRequest, UsageView
from meterline.licensing.usage_store import Dialect

log = logging.getLogger("meterline.licensing.reports")

USAGE_PATH = "/instances/{instanceSlug}/entitlements/{entitlementSlug}/usage"


class UsageReportIn(Body):
    value: NumberValue
    behavior: Literal["append", "set"] = "append"
    metadata: FreeObject | None = None
    transactionId: str | None = Field(default=None, pattern=r"^[A-Za-z0-9._:-]{1,128}$")


def usage_out(view: UsageView) -> dict[str, Any]:
    """The current contract's EntitlementUsage plus the seed's behavior/metadata/timestamp."""
    return compact(
        {
            "entitlementId": wire_id(view.entitlement_id),
            "entitlementSlug": view.entitlement_slug,
            "licenseId": wire_id(view.license_id),
            "licenseSlug": view.license_slug,
            "value": typed_out(view.value),
            "limit": typed_out(view.limit),
            "currentPeriodStart": iso(view.window.start),
            "currentPeriodEnd": iso(view.window.end),
            "behavior": view.behavior,
            "metadata": view.metadata,
            "timestamp": iso(view.timestamp),
        }
    )


# --- parsing a report ---------------------------------------------------------------------


class _NumberIn(msgspec.Struct, forbid_unknown_fields=True):
    type: Literal["number"]
    # JSON numbers are read as int or float, then made Decimal as the pydantic model makes
    # them (an int exactly, a float from its shortest repr), so both paths agree exactly.
    value: int | float
    event_count: int | None = None


class _ReportIn(msgspec.Struct, forbid_unknown_fields=True):
    value: _NumberIn
    behavior: Literal["append", "set"] = "append"
    metadata: dict[str, Any] | None = None
    transactionId: str | None = None


_decoder = msgspec.json.Decoder(_ReportIn)
_TRANSACTION_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def parse_report(_request: Request, body: bytes) -> UsageReportIn | None:
    """The report when ``body`` is a plainly valid JSON report, as the model would read it;
    else None (declined: the FastAPI route refuses it with the model)."""
    try:
        parsed = _decoder.decode(body)
    except (msgspec.DecodeError, ValueError):  # ValueError: e.g. not UTF-8
        return None
    number = parsed.value.value
    if isinstance(number, float) and not math.isfinite(number):
        return None
    value = Decimal(number) if isinstance(number, int) else Decimal(repr(number))
    if not money.within(value):
        return None  # the model's bound refuses it: its 422 comes from the slow path
    transaction_id = parsed.transactionId
    if transaction_id is not None and not _TRANSACTION_ID.fullmatch(transaction_id):
        return None
    # model_construct: every field was checked above, as the model would check it.
    return UsageReportIn.model_construct(
        value=NumberValue.model_construct(
            type="number",
            value=value,
            event_count=parsed.value.event_count,
        ),
        behavior=parsed.behavior,
        metadata=parsed.metadata,
        transactionId=transaction_id,
    )


# --- the routes ---------------------------------------------------------------------------


def _path_params(request: Request) -> tuple[str, str]:
    params = request.path_params
    return params["instanceSlug"], params["entitlementSlug"]


async def _fast_report(request: Request, body: UsageReportIn) -> Response:
    instance_slug, entitlement_slug = _path_params(request)
    return await report_usage(request, instance_slug, entitlement_slug, body)


async def report_usage(
    request: Request, instance_slug: str, entitlement_slug: str, body: UsageReportIn
) -> Response:
    """POST: report usage of a NUMBER entitlement (scope ``write:instances``)."""
    principal = authorize(request, "write", "instances")
    writer: ReportWriter = request.app.state.report_writer
    report = UsageReportRequest(
        environment_id=principal.environment_id,
        key_id=principal.key_id,
        instance_slug=instance_slug,
        entitlement_slug=entitlement_slug,
        value=reporting.check_reported_value(Decimal(body.value.value)),
        behavior=body.behavior,
        metadata=body.metadata,
        transaction_id=body.transactionId,
    )
    try:
        outcome = await writer.submit(report)
    except DomainError:
        raise  # the app's handler answers it (404, 409, 429, 503)
    except Exception:
        # Answered here, not left to escape the app (which would reset the connection).
        log.exception("usage report failed")
        return problem(request, 500, "An unexpected error occurred")
    if not outcome.accepted:
        # An answer, not an error: the refusal's ledger row was committed with its batch.
        return problem(request, 409, outcome.detail, code=THRESHOLD_EXCEEDED)
    headers = {"Idempotent-Replayed": "true"} if outcome.replayed else None
    return json_response(usage_out(outcome.view), headers=headers)


async def read_usage(request: Request) -> Response:
    """GET: the instance's usage of one entitlement next to its grant (``read:instances``)."""
    instance_slug, entitlement_slug = _path_params(request)
    principal = authorize(request, "read", "instances")
    db = database(request)
    dialect = _DIALECTS[db.dialect]
    if db.is_sqlite:
        # One indexed read of a local file: cheaper on the loop than the hop to a thread;
        # its answer is kept until anything is committed or the window ends (hot.kept).

        def answer(conn: Any) -> tuple[bytes, datetime | None]:
            view = reporting.read_usage(conn, dialect, principal, instance_slug, entitlement_slug)
            return dumps(usage_out(view)), view.window.end

        key = ("kaiten-usage", principal.environment_id, instance_slug, entitlement_slug)
        hot: HotReads = request.app.state.hot
        return Response(hot.kept(key, answer), media_type="application/json")
    else:

        def read() -> UsageView:
            pooled = db.read_engine.raw_connection()
            try:
                return reporting.read_usage(
                    pooled.dbapi_connection, dialect, principal, instance_slug, entitlement_slug
                )
            finally:
                pooled.close()

        # This route is exempt from ConcurrencyLimit (it holds no session on SQLite): take
        # a token here, where it does hold a pooled connection.
        limiter = session_limiter(request.scope)
        if limiter is None:
            view = await run_in_threadpool(read)
        else:
            async with limiter:
                view = await run_in_threadpool(read)
    return json_response(usage_out(view))


_DIALECTS = {name: Dialect(name) for name in ("sqlite", "postgresql")}


def _no_body(_request: Request, _body: bytes) -> bool:
    return True


async def _fast_read(request: Request, _: bool) -> Response:
    return await read_usage(request)


def fast_routes(
    shadows_read: Callable[..., Any], shadows_report: Callable[..., Any]
) -> list[FastRoute[Any]]:
    """The two fast routes, in front of ``instances.py``'s FastAPI routes of the operations."""
    return [
        FastRoute(
            "kaiten_read_usage",
            "GET",
            "/api" + USAGE_PATH,
            shadows_read,
            _no_body,
            _fast_read,
            reads_body=False,
            slot="own",
        ),
        FastRoute(
            "kaiten_report_usage",
            "POST",
            "/api" + USAGE_PATH,
            shadows_report,
            parse_report,
            _fast_report,
        ),
    ]
