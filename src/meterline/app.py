"""The FastAPI application: dialect routers, error renderers and the process lifespan."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.types import ASGIApp

from meterline import __version__, observability
from meterline.accounts import service as accounts
from meterline.alerts.job import AlertJob
from meterline.api import fastpath
from meterline.api.errors import install_error_handlers
from meterline.api.http import health
from meterline.api.http.body import BodyPipeline
from meterline.api.http.catch_all import CatchAll
from meterline.api.limits import ConcurrencyLimit
from meterline.api.openapi import install_openapi
from meterline.api.ratelimit import limiter_from_settings
from meterline.api.routers import include_routers
from meterline.credits.apply import CreditGrantJob
from meterline.db.engine import Database
from meterline.entitlements.read_model import HotReads
from meterline.exports.job import ExportJob
from meterline.invoicing.clock import billing_clock
from meterline.licensing.cull_job import LicensingCullJob
from meterline.licensing.report_writer import ReportWriter
from meterline.metering.rebuild_job import MeterRebuildJob
from meterline.metering.writer import IngestWriter
from meterline.runtime import changes
from meterline.runtime.jobs import Jobs
from meterline.settings import Settings
from meterline.ui import docs
from meterline.webhooks.worker import webhook_worker

log = logging.getLogger("meterline")


class Meterline(FastAPI):
    def build_middleware_stack(self) -> ASGIApp:
        # Both outside Starlette's ServerErrorMiddleware, which answers an unexpected
        # exception and then raises it again: the request id and the access log cover its
        # 500 too, and the catch-all keeps the exception from the server
        # (api/http/catch_all.py).
        return CatchAll(observability.RequestContext(super().build_middleware_stack()))


def create_app(settings: Settings | None = None) -> FastAPI:
    """The application, configured by ``settings`` (default: read from the environment)."""
    settings = settings if settings is not None else Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = Database.connect(settings)
        db.start_checkpointer()
        if settings.bootstrap_key:
            with db.session() as session:
                accounts.ensure_bootstrap_key(session, settings.bootstrap_key)
        writer = IngestWriter(db, settings)
        writer.start()
        report_writer = ReportWriter(db)  # Kaiten usage reports: group commit
        report_writer.start()
        jobs = Jobs()
        jobs.add(billing_clock(db, settings.billing))  # interval 0 = off
        jobs.add(webhook_worker(db, settings.webhooks))  # worker=false: off
        jobs.add(MeterRebuildJob(db, settings.events))  # meters created or whose filters changed
        jobs.add(LicensingCullJob(db))  # culled machines and expired seat leases
        jobs.add(CreditGrantJob(db, settings.billing.interval_seconds))  # with the clock
        jobs.add(ExportJob(db, settings.billing.interval_seconds))  # with the clock
        alert_job = AlertJob(db, settings.alerts.scan_seconds)  # scan_seconds 0 = off
        jobs.add(alert_job)
        unsubscribe_alerts = None
        if alert_job.interval > 0:
            writer.after_commit = alert_job.touch
            unsubscribe_alerts = changes.subscribe(alert_job.touch_customers)
        jobs.start()
        observability.watch_queue_depth(lambda: writer.queued_events)
        app.state.db = db
        app.state.health.add("database", health.database_probe(db))
        app.state.writer = writer
        app.state.hot = HotReads(db, settings)
        app.state.report_writer = report_writer
        app.state.writers = {"ingest_writer": writer, "report_writer": report_writer}
        for name, running in app.state.writers.items():
            app.state.health.add(name, health.writer_probe(running), cache_seconds=0)
        app.state.jobs = jobs
        for job in jobs.enabled():
            app.state.health.add(job.job.name, health.job_probe(job), cache_seconds=0)
        app.state.rate_limiter = limiter_from_settings(
            settings.http.rate_limit_per_second, settings.http.rate_limit_burst
        )
        # Everything built so far (routes, models, SQLAlchemy mappers: ~200,000 objects) lives
        # as long as the process: take it out of the collector's sight, or every full
        # collection walks it and stalls every request in flight for ~60 ms.
        gc.freeze()
        try:
            yield
        finally:
            app.state.health.shutting_down = True
            if unsubscribe_alerts is not None:
                unsubscribe_alerts()
            jobs.stop()
            writer.stop()
            app.state.hot.close()
            report_writer.stop()
            db.dispose()

    app = Meterline(
        title="Meterline",
        version=__version__,
        description=(
            "Usage metering, entitlements, licensing and billing. `/v1` speaks the Flexprice "
            "billing API, `/api` the Kaiten licensing API, `GET /v1/usage` the customer usage "
            f"report. Request bodies are limited to {settings.http.max_body_bytes} bytes "
            f"({settings.http.max_api_body_bytes} on `/api`, as Kaiten limits them), must "
            f"arrive within {settings.http.body_timeout_seconds:g} seconds (else 408) and may nest "
            f"JSON at most {settings.http.max_json_depth} levels deep."
        ),
        lifespan=lifespan,
        docs_url=None,  # served from vendored assets by ui.docs
        redoc_url=None,
    )

    app.state.settings = settings  # read by routes through api.deps.AppSettings
    health.install(app)  # /health and /ready
    app.add_route("/metrics", observability.metrics_endpoint, include_in_schema=False)
    install_error_handlers(app)
    include_routers(app)
    install_openapi(app)
    docs.install(app)  # /docs, /redoc and the landing page at /, with no CDN
    # Authenticated, whole-body requests only take a database slot ...
    app.add_middleware(
        ConcurrencyLimit,
        limit=settings.http.max_concurrent_requests,
        exempt=fastpath.exemptions(app),
    )
    # ... behind the body pipeline: bounded, timed, checked (NUL, surrogates, depth).
    app.add_middleware(
        BodyPipeline,
        max_bytes=settings.http.max_body_bytes,
        api_max_bytes=settings.http.max_api_body_bytes,
        timeout_seconds=settings.http.body_timeout_seconds,
        max_json_depth=settings.http.max_json_depth,
    )
    # Outermost (Meterline.build_middleware_stack): the request id and the catch-all.
    return app
