"""Prometheus metrics, structured JSON logs and the request id.

* ``GET /metrics`` serves this process's metrics in the Prometheus text format.
* :class:`RequestContext` (pure ASGI, so the ingest hot path pays a few microseconds) gives
  every request an id — the caller's ``X-Request-ID`` if it sent a sane one, else a new
  one — echoes it in the response, times the request into a histogram labelled by the
  *route template* (``/v1/customers/{customer_id}``, never the raw path, so the label set
  stays bounded) and writes one access-log line at INFO.
* :class:`JsonFormatter` writes one JSON object per log line with the request id of the
  request being served. Log lines never carry API keys: nothing logs headers, and anything
  shaped like a key that reaches a message is masked.
"""

from __future__ import annotations

import contextvars
import itertools
import json
import logging
import os
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

disable_created_metrics()
REGISTRY = CollectorRegistry(auto_describe=True)

EVENTS_INGESTED = Counter(
    "meterline_events_ingested",
    "Events committed by the ingest writer (new, not counting duplicates).",
    registry=REGISTRY,
)
EVENTS_DUPLICATE = Counter(
    "meterline_events_duplicate",
    "Events received again (same environment and event id) and not stored twice.",
    registry=REGISTRY,
)
INGEST_BATCHES = Counter(
    "meterline_ingest_batches", "Group-commit transactions of the ingest writer.", registry=REGISTRY
)
REQUEST_LATENCY = Histogram(
    "meterline_http_request_duration_seconds",
    "HTTP request latency by method, route template and status code.",
    ("method", "route", "status"),
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=REGISTRY,
)
WRITER_QUEUE_DEPTH = Gauge(
    "meterline_ingest_queue_depth",
    "Events waiting for the ingest writer's next transaction.",
    registry=REGISTRY,
)
BILLING_RUNS = Counter(
    "meterline_billing_clock_runs",
    "Runs of the billing clock, by outcome (ok | failed).",
    ("outcome",),
    registry=REGISTRY,
)
BILLING_PERIODS_CLOSED = Counter(
    "meterline_billing_periods_closed",
    "Subscription periods closed by the billing clock.",
    registry=REGISTRY,
)
BILLING_INVOICES_FINALIZED = Counter(
    "meterline_billing_invoices_finalized",
    "Draft invoices finalized by the billing clock.",
    registry=REGISTRY,
)
WEBHOOK_DELIVERIES = Counter(
    "meterline_webhook_deliveries",
    "Webhook delivery attempts, by outcome (succeeded | failed).",
    ("outcome",),
    registry=REGISTRY,
)
WEBHOOK_OUTBOX_PENDING = Gauge(
    "meterline_webhook_outbox_pending",
    "Webhook messages waiting for delivery (as of the worker's last poll).",
    registry=REGISTRY,
)

UNMATCHED_ROUTE = "<unmatched>"


def record_ingest(new: int, duplicates: int) -> None:
    """Called by the ingest writer after each committed batch."""
    INGEST_BATCHES.inc()
    if new:
        EVENTS_INGESTED.inc(new)
    if duplicates:
        EVENTS_DUPLICATE.inc(duplicates)


def record_billing_run(periods_closed: int, invoices_finalized: int, *, failed: bool) -> None:
    BILLING_RUNS.labels("failed" if failed else "ok").inc()
    if periods_closed:
        BILLING_PERIODS_CLOSED.inc(periods_closed)
    if invoices_finalized:
        BILLING_INVOICES_FINALIZED.inc(invoices_finalized)


def watch_queue_depth(read: Callable[[], float]) -> None:
    """The queue-depth gauge reads ``read()`` at scrape time."""
    WRITER_QUEUE_DEPTH.set_function(read)


def metrics_endpoint(_request: Request) -> Response:
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


def _full_template(route: Any, path: str) -> str:
    """The route's template with the prefix it was included under: a router included with
    ``prefix="/v1"`` knows its own path (``/customers/{customer_id}``) but not the prefix,
    which is literal, so it is the part of the request path before what the route matched."""
    own = getattr(route, "path", None)
    regex = getattr(route, "path_regex", None)
    if not isinstance(own, str):
        return UNMATCHED_ROUTE
    if regex is None or regex.match(path):
        return own
    for at in range(1, len(path)):
        if path[at] == "/" and regex.match(path[at:]):
            return path[:at] + own
    return own


# --- request id and access log --------------------------------------------------------------

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "meterline_request_id", default=None
)
# Where the request id also lives in the ASGI scope, for the catch-all outside this layer.
REQUEST_ID_SCOPE_KEY = "meterline.request_id"
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
access_log = logging.getLogger("meterline.access")
# Request ids: a random per-process prefix and a counter — unique across processes, and
# cheaper than a fresh random id per request on the ingest hot path.
_ID_PREFIX = os.urandom(8).hex()
_id_counter = itertools.count(1)


def current_request_id() -> str | None:
    return request_id_var.get()


class RequestContext:
    """Request id, latency histogram and access log for every HTTP request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._templates: dict[Any, str] = {}
        # labels() takes a lock and builds a key on every call: keep the children.
        self._histograms: dict[tuple[str, str, int], Any] = {}

    def _route_template(self, scope: Scope) -> str:
        route = scope.get("route")
        if route is not None:
            # Routes live as long as the app (and APIRoute is unhashable): key by identity.
            cached = self._templates.get(id(route))
            if cached is None:
                cached = self._templates[id(route)] = _full_template(route, scope["path"])
            return cached
        # Plain Starlette routes (the ingest hot path) do not set scope["route"]: find the
        # template once per endpoint and remember it.
        endpoint = scope.get("endpoint")
        if endpoint is None:
            return UNMATCHED_ROUTE
        found = self._templates.get(endpoint)
        if found is not None:
            return found
        template = UNMATCHED_ROUTE
        for candidate in getattr(getattr(scope.get("app"), "router", None), "routes", ()):
            if getattr(candidate, "endpoint", None) is endpoint:
                template = getattr(candidate, "path", UNMATCHED_ROUTE)
                break
        self._templates[endpoint] = template
        return template

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = None
        for name, value in scope.get("headers") or ():
            if name == b"x-request-id":
                text = value.decode("latin-1")
                if _SANE_REQUEST_ID.match(text):
                    incoming = text
                break
        request_id = incoming or f"{_ID_PREFIX}{next(_id_counter):016x}"
        token = request_id_var.set(request_id)
        scope[REQUEST_ID_SCOPE_KEY] = request_id
        header = (b"x-request-id", request_id.encode("latin-1"))
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = self._route_template(scope)
            key = (scope["method"], route, status)
            histogram = self._histograms.get(key)
            if histogram is None:
                histogram = self._histograms[key] = REQUEST_LATENCY.labels(
                    key[0], route, str(status)
                )
            histogram.observe(elapsed)
            if access_log.isEnabledFor(logging.INFO):
                access_log.info(
                    "%s %s %d",
                    scope["method"],
                    route,
                    status,
                    extra={
                        "http_method": scope["method"],
                        "route": route,
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 3),
                    },
                )
            request_id_var.reset(token)


# --- JSON logs ------------------------------------------------------------------------------

_KEY_SHAPED = re.compile(r"\b(sk|pk|ak|mk)_[A-Za-z0-9_\-]{12,}")
_STANDARD_ATTRS = frozenset(
    logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys()
    | {"message", "asctime", "color_message"}
)


def mask_keys(text: str) -> str:
    """``sk_abcdef...`` → ``sk_***``: API keys never reach a log line."""
    return _KEY_SHAPED.sub(lambda m: f"{m.group(1)}_***", text)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id and extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": mask_keys(record.getMessage()),
        }
        request_id = request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        for name, value in record.__dict__.items():
            if name not in _STANDARD_ATTRS and not name.startswith("_"):
                entry[name] = value if isinstance(value, int | float | bool | None) else str(value)
        if record.exc_info:
            entry["exception"] = mask_keys(self.formatException(record.exc_info))
        return json.dumps(entry, default=str)


def log_config(level: str, json_logs: bool = True) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for ``meterline serve`` (and uvicorn's loggers)."""
    formatter = (
        {"()": "meterline.observability.JsonFormatter"}
        if json_logs
        else {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}
    )
    handler = {
        "class": "logging.StreamHandler",
        "formatter": "default",
        "stream": "ext://sys.stderr",
    }
    upper = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": formatter},
        "handlers": {"default": handler},
        "loggers": {
            "meterline": {"handlers": ["default"], "level": upper, "propagate": False},
            "uvicorn": {"handlers": ["default"], "level": upper, "propagate": False},
            "uvicorn.error": {"level": upper},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
        },
    }
