"""The delivery worker: fans outbox messages out to endpoints and delivers them.

* Each committed message becomes one delivery per live endpoint subscribed to its type, in
  one transaction that also marks the message dispatched.
* A delivery is claimed (``claimed_until``) in a short transaction, posted without holding
  any transaction open, and its outcome recorded in another: several server processes can
  run workers against one PostgreSQL without delivering a message twice at once.
* A failed attempt is retried after ``backoff_seconds · 2^(attempt−1)`` (capped), up to
  ``max_attempts``; an endpoint whose deliveries fail ``disable_after_failures`` times in a
  row is disabled (re-enable it with ``PATCH``, which resumes its pending deliveries).
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.exc import IntegrityError, OperationalError

from meterline import observability
from meterline.db.base import utcnow
from meterline.db.engine import Database
from meterline.webhooks import repository
from meterline.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from meterline.webhooks.outbox import wakeup
from meterline.webhooks.signing import headers

log = logging.getLogger("meterline.webhooks")
DISPATCH_BATCH = 500
DELIVERY_BATCH = 100
CLAIM_SECONDS = 120
MAX_RESPONSE_BYTES = 2000


class WebhookSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="METERLINE_WEBHOOK_", extra="ignore")

    # Run the delivery worker inside ``meterline serve``.
    worker: bool = True
    # Seconds between polls of the outbox (a commit in this process wakes it at once).
    poll_seconds: float = 1.0
    max_attempts: int = 8
    # The first retry waits this long; each next one twice as long, at most backoff_max.
    backoff_seconds: float = 5.0
    backoff_max_seconds: float = 3600.0
    disable_after_failures: int = 10
    timeout_seconds: float = 10.0
    concurrency: int = 4


@dataclass(frozen=True)
class _Job:
    delivery_id: str
    endpoint_id: str
    url: str
    secret: str
    message_id: str
    body: bytes
    attempt: int


@dataclass(frozen=True)
class _Outcome:
    status_code: int | None
    error: str | None
    response_body: str | None
    duration_ms: int

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *_args: object, **_kwargs: object) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def body_of(event_type: str, created_at: datetime, payload: dict[str, object]) -> bytes:
    """The delivered JSON: ``{"type", "timestamp", "data"}``; the same bytes on every try."""
    stamp = created_at.astimezone(UTC).isoformat().replace("+00:00", "Z")
    document = {"type": event_type, "timestamp": stamp, "data": payload}
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()


def backoff(settings: WebhookSettings, attempt: int) -> timedelta:
    """The wait after failed attempt number ``attempt`` (1-based)."""
    seconds = settings.backoff_seconds * (2 ** (attempt - 1))
    return timedelta(seconds=min(seconds, settings.backoff_max_seconds))


def _post(job: _Job, timeout: float) -> _Outcome:
    timestamp = int(time.time())
    request = urllib.request.Request(
        job.url,
        data=job.body,
        headers=headers(job.secret, job.message_id, timestamp, job.body),
        method="POST",
    )
    started = time.perf_counter()
    try:
        with _opener.open(request, timeout=timeout) as response:
            text = response.read(MAX_RESPONSE_BYTES).decode("utf-8", "replace")
            status, error = int(response.status), None
    except urllib.error.HTTPError as exc:
        status, error = int(exc.code), f"HTTP {exc.code}"
        text = exc.read(MAX_RESPONSE_BYTES).decode("utf-8", "replace") if exc.fp else ""
    except (urllib.error.URLError, OSError, ValueError) as exc:
        status, error, text = None, str(getattr(exc, "reason", exc))[:500], None
    elapsed = int((time.perf_counter() - started) * 1000)
    return _Outcome(status, error, text, elapsed)


class WebhookWorker:
    def __init__(self, db: Database, settings: WebhookSettings | None = None) -> None:
        self.db = db
        self.settings = settings or WebhookSettings()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pool = ThreadPoolExecutor(
            max_workers=max(1, self.settings.concurrency), thread_name_prefix="webhook-post"
        )

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="webhook-worker", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        wakeup.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            wakeup.clear()
            try:
                self.run_once()
            except Exception:  # the worker must survive a bad round; the next one retries
                log.exception("webhook round failed")
            wakeup.wait(self.settings.poll_seconds)

    def run_once(self, now: datetime | None = None) -> int:
        """One round: fan out new messages, then attempt every due delivery once.
        Returns the number of attempts made."""
        self.dispatch()
        now = now or utcnow()
        jobs = self._claim(now)
        outcomes = list(self._pool.map(lambda j: _post(j, self.settings.timeout_seconds), jobs))
        for job, outcome in zip(jobs, outcomes, strict=True):
            self._record(job, outcome)
        return len(jobs)

    def dispatch(self) -> int:
        with self.db.session(write=False) as session:
            pending = repository.count_undispatched(session)
        observability.WEBHOOK_OUTBOX_PENDING.set(pending)
        if not pending:
            return 0
        try:
            with self.db.session() as session:
                messages = repository.undispatched(session, DISPATCH_BATCH)
                endpoints: dict[str, list[WebhookEndpoint]] = {}
                for message in messages:
                    env = message.environment_id
                    if env not in endpoints:
                        endpoints[env] = repository.live_endpoints(session, env)
                    for target in endpoints[env]:
                        wanted = not target.event_types or message.event_type in target.event_types
                        if target.enabled and wanted:
                            session.add(
                                WebhookDelivery(
                                    environment_id=env,
                                    message_id=message.id,
                                    endpoint_id=target.id,
                                    next_attempt_at=message.created_at,
                                )
                            )
                    message.dispatched = True
                session.flush()
                return len(messages)
        except (IntegrityError, OperationalError):
            # Another process fanned the same messages out first.
            return 0

    def _claim(self, now: datetime) -> list[_Job]:
        jobs: list[_Job] = []
        with self.db.session(write=False) as session:
            due = repository.due_deliveries(session, now, DELIVERY_BATCH)
        for delivery_id in due:
            with self.db.session() as session:
                until = now + timedelta(seconds=CLAIM_SECONDS)
                if not repository.claim(session, delivery_id, now, until):
                    continue
                delivery = repository.delivery(session, delivery_id)
                assert delivery is not None
                message = repository.message(session, delivery.message_id)
                target = repository.endpoint_by_id(session, delivery.endpoint_id)
                assert message is not None and target is not None
                jobs.append(
                    _Job(
                        delivery_id=delivery.id,
                        endpoint_id=target.id,
                        url=target.url,
                        secret=target.secret,
                        message_id=message.id,
                        body=body_of(message.event_type, message.created_at, message.payload),
                        attempt=delivery.attempts + 1,
                    )
                )
        return jobs

    def _record(self, job: _Job, outcome: _Outcome) -> None:
        now = utcnow()
        observability.WEBHOOK_DELIVERIES.labels(
            "succeeded" if outcome.succeeded else "failed"
        ).inc()
        with self.db.session() as session:
            delivery = session.get(WebhookDelivery, job.delivery_id, with_for_update=True)
            target = session.get(WebhookEndpoint, job.endpoint_id, with_for_update=True)
            assert delivery is not None and target is not None
            session.add(
                WebhookAttempt(
                    delivery_id=delivery.id,
                    endpoint_id=target.id,
                    attempt=job.attempt,
                    status_code=outcome.status_code,
                    error=outcome.error,
                    response_body=outcome.response_body,
                    duration_ms=outcome.duration_ms,
                    attempted_at=now,
                )
            )
            delivery.attempts = job.attempt
            delivery.last_status_code = outcome.status_code
            delivery.last_error = outcome.error
            delivery.claimed_until = None
            if outcome.succeeded:
                delivery.status = "succeeded"
                delivery.delivered_at = now
                target.consecutive_failures = 0
                return
            if job.attempt >= self.settings.max_attempts:
                delivery.status = "failed"
            else:
                delivery.next_attempt_at = now + backoff(self.settings, job.attempt)
            target.consecutive_failures += 1
            limit = self.settings.disable_after_failures
            if target.enabled and target.consecutive_failures >= limit:
                target.enabled = False
                target.disabled_reason = f"disabled after {limit} consecutive failed deliveries"
                log.warning("webhook endpoint %s disabled after %d failures", target.id, limit)


def start_worker(db: Database) -> WebhookWorker | None:
    settings = WebhookSettings()
    if not settings.worker:
        return None
    worker = WebhookWorker(db, settings)
    worker.start()
    return worker
