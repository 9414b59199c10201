"""``GET /health`` and ``GET /ready``: what a load balancer asks before it sends traffic.

Both run the same named checks (``Health.add``): the database answers a ``SELECT 1``
within ``PING_TIMEOUT`` seconds, and whatever other parts of the process register (a
writer thread that must be alive, ...). Each check's result is kept for ``CACHE_SECONDS``
and computed by one caller at a time, so a flood of health checks costs the database one
ping a second.

* ``/health`` answers 200 ``{"status":"ok","database":"ok",...}``, or 503 with
  ``"status":"unavailable"`` and the failing check's word (``unavailable``, ``timeout``).
* ``/ready`` answers the same body, 200 when every check passes and the process is not
  shutting down, 503 otherwise (``"status":"shutting_down"`` once the server stops).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from meterline.db.engine import Database
from meterline.runtime.group_commit import GroupCommitWriter
from meterline.runtime.jobs import JobState

log = logging.getLogger("meterline.health")

OK = "ok"
CACHE_SECONDS = 1.0
PING_TIMEOUT = 2.0

Probe = Callable[[], Awaitable[str]]


class Cached:
    """A probe's answer, kept ``CACHE_SECONDS`` and computed by one caller at a time."""

    def __init__(self, probe: Probe, seconds: float = CACHE_SECONDS) -> None:
        self.probe = probe
        self.seconds = seconds
        self.lock = anyio.Lock()
        self.value = OK
        self.until = 0.0

    async def __call__(self) -> str:
        if time.monotonic() < self.until:
            return self.value
        async with self.lock:
            if time.monotonic() >= self.until:
                self.value = await self.probe()
                self.until = time.monotonic() + self.seconds
        return self.value


class Health:
    """The named checks of this process, and whether it is shutting down."""

    def __init__(self) -> None:
        self.checks: dict[str, Cached] = {}
        self.shutting_down = False

    def add(self, name: str, probe: Probe, cache_seconds: float = CACHE_SECONDS) -> None:
        """Register a check; a cheap one (no I/O) can pass ``cache_seconds=0``."""
        self.checks[name] = Cached(probe, cache_seconds)

    async def report(self) -> dict[str, str]:
        results = {name: await check() for name, check in self.checks.items()}
        status = OK if all(value == OK for value in results.values()) else "unavailable"
        return {"status": status, **results}


def database_probe(db: Database) -> Probe:
    def ping() -> None:
        with db.read_engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")

    async def probe() -> str:
        with anyio.move_on_after(PING_TIMEOUT):
            try:
                await anyio.to_thread.run_sync(ping, abandon_on_cancel=True)
            except Exception:
                log.warning("database ping failed", exc_info=True)
                return "unavailable"
            return OK
        log.warning("database ping timed out after %s s", PING_TIMEOUT)
        return "timeout"

    return probe


def writer_probe(writer: GroupCommitWriter[Any, Any]) -> Probe:
    """``ok`` while a group-commit writer's thread runs, ``stopped`` once it has ended."""

    async def probe() -> str:
        return OK if writer.alive else "stopped"

    return probe


def job_probe(job: JobState) -> Probe:
    """``ok`` while a background job's thread runs (``runtime/jobs.py``), else ``stopped``."""

    async def probe() -> str:
        return job.status

    return probe


_RESPONSES: dict[int | str, dict[str, Any]] = {
    503: {"description": "A check failed (or, for /ready, the process is shutting down)"}
}


def install(app: FastAPI) -> None:
    app.state.health = Health()

    @app.get("/health", tags=["health"], responses=_RESPONSES)
    async def health(request: Request) -> JSONResponse:
        """Whether this process and its database answer."""
        body = await request.app.state.health.report()
        return JSONResponse(body, 200 if body["status"] == OK else 503)

    @app.get("/ready", tags=["health"], responses=_RESPONSES)
    async def ready(request: Request) -> JSONResponse:
        """Whether this process can serve: every check passes and it is not stopping."""
        state: Health = request.app.state.health
        body = await state.report()
        if state.shutting_down and body["status"] == OK:
            body["status"] = "shutting_down"
        return JSONResponse(body, 200 if body["status"] == OK else 503)
