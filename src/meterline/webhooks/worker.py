"""The delivery worker: fans outbox messages out to endpoints and delivers them.

* Each committed message becomes one delivery per live endpoint subscribed to its type, in
  one transaction that also marks the message dispatched.
* A delivery is claimed (``claimed_until``) in a short transaction, posted without holding
  any transaction open, and its outcome recorded in another: several server processes can
  run workers against one PostgreSQL without delivering a message twice at once.
* Endpoints are isolated from each other: at most ``concurrency`` attempts are in flight,
  each endpoint has at most one of them (its deliveries go one after the other) and one
  environment at most half of them, so a slow endpoint delays only its own deliveries. An
  attempt ends after ``timeout_seconds`` whatever the endpoint does (see ``transport``).
* A failed attempt (an error, a non-2xx answer, a time-out, a refused address) is retried
  after ``backoff_seconds · 2^(attempt−1)`` (capped), up to ``max_attempts``. An endpoint
  whose attempts fail — or answer 2xx but slower than ``slow_seconds`` —
  ``disable_after_failures`` times in a row is disabled (re-enable it with ``PATCH``, which
  resumes its pending deliveries).
* Each attempt re-checks where the URL resolves to (``egress``): a name that now points at
  a private address is refused, not delivered.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError, OperationalError

from meterline import observability
from meterline.db.base import utcnow
from meterline.db.engine import Database
from meterline.settings import WebhookSettings
from meterline.webhooks import repository
from meterline.webhooks.models import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    subscribes_to,
)
from meterline.webhooks.outbox import wakeup
from meterline.webhooks.signing import headers
from meterline.webhooks.transport import Outcome, post

log = logging.getLogger("meterline.webhooks")
DISPATCH_BATCH = 500
# Due deliveries read per round to find idle endpoints among (the busy ones are excluded).
DELIVERY_BATCH = 500
# A claim outlives the attempt (its time-out) with room to record the outcome.
CLAIM_SECONDS = 120


@dataclass(frozen=True)
class _Job:
    delivery_id: str
    endpoint_id: str
    environment_id: str
    url: str
    secret: str
    message_id: str
    body: bytes
    attempt: int


def body_of(payload: dict[str, object]) -> bytes:
    """The delivered JSON: the message's payload (Flexprice's shape, webhooks/payloads.py);
    the same bytes on every try."""
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


def backoff(settings: WebhookSettings, attempt: int) -> timedelta:
    """The wait after failed attempt number ``attempt`` (1-based)."""
    seconds = settings.backoff_seconds * (2 ** (attempt - 1))
    return timedelta(seconds=min(seconds, settings.backoff_max_seconds))


class WebhookWorker:
    """The delivery worker as a job (``runtime/jobs.py``): a round per tick, at once and
    then every ``poll_seconds``, early when the outbox or a finished attempt wakes it."""

    name = "webhook_worker"
    run_at_start = True

    def __init__(self, db: Database, settings: WebhookSettings) -> None:
        self.db = db
        self.settings = settings
        self.slots = max(1, self.settings.concurrency)
        # One environment's share of the slots: the rest stay free for the others.
        self.environment_slots = max(1, (self.slots + 1) // 2)
        # On: a poll every poll_seconds (at least every 10 ms: never a busy loop); off: 0.
        self.interval = max(self.settings.poll_seconds, 0.01) if self.settings.worker else 0.0
        self.wakeup: threading.Event | None = wakeup
        self.stopping = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=self.slots, thread_name_prefix="webhook-post")
        self._lock = threading.Lock()
        self._busy_endpoints: set[str] = set()
        self._busy_environments: Counter[str] = Counter()

    def close(self) -> None:
        """After the last round: waits for the attempts in flight (each ends by its
        time-out)."""
        self._pool.shutdown(wait=True, cancel_futures=True)

    def run_once(self, now: datetime | None = None) -> int:
        """One round: fan out new messages, then start an attempt for due deliveries of idle
        endpoints, as many as there are free slots. Attempts run in the background; the
        end of each wakes the loop for the endpoint's next delivery. Returns the number
        of attempts started."""
        self.dispatch()
        jobs = self._claim(now or utcnow())
        for job in jobs:
            self._pool.submit(self._attempt, job)
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
                        wanted = subscribes_to(target.event_types, message.event_type)
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
        with self._lock:
            free = self.slots - len(self._busy_endpoints)
            busy_endpoints = set(self._busy_endpoints)
            full = {e for e, n in self._busy_environments.items() if n >= self.environment_slots}
        if free <= 0:
            return []
        with self.db.session(write=False) as session:
            due = repository.due_deliveries(
                session,
                now,
                DELIVERY_BATCH,
                skip_endpoints=busy_endpoints,
                skip_environments=full,
            )
        # The oldest due delivery of each idle endpoint, within the environments' shares.
        chosen: list[tuple[str, str, str]] = []
        taken: set[str] = set()
        environments: Counter[str] = Counter()
        with self._lock:
            for delivery_id, endpoint_id, environment_id in due:
                if len(chosen) >= free:
                    break
                share = self._busy_environments[environment_id] + environments[environment_id]
                if endpoint_id in taken or share >= self.environment_slots:
                    continue
                taken.add(endpoint_id)
                environments[environment_id] += 1
                chosen.append((delivery_id, endpoint_id, environment_id))
        jobs: list[_Job] = []
        until = now + timedelta(seconds=max(CLAIM_SECONDS, 2 * self.settings.timeout_seconds))
        for delivery_id, _, _ in chosen:
            with self.db.session() as session:
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
                        environment_id=target.environment_id,
                        url=target.url,
                        secret=target.secret,
                        message_id=message.id,
                        body=body_of(message.payload),
                        attempt=delivery.attempts + 1,
                    )
                )
        with self._lock:
            for job in jobs:
                self._busy_endpoints.add(job.endpoint_id)
                self._busy_environments[job.environment_id] += 1
        return jobs

    def _attempt(self, job: _Job) -> None:
        try:
            timestamp = int(time.time())
            outcome = post(
                job.url,
                job.body,
                headers(job.secret, job.message_id, timestamp, job.body),
                timeout=self.settings.timeout_seconds,
                allow_private=self.settings.allow_private,
            )
            self._record(job, outcome)
        except Exception:  # recorded next time: the claim expires and the delivery is due
            log.exception("webhook attempt %s failed", job.delivery_id)
        finally:
            with self._lock:
                self._busy_endpoints.discard(job.endpoint_id)
                self._busy_environments[job.environment_id] -= 1
                if self._busy_environments[job.environment_id] <= 0:
                    del self._busy_environments[job.environment_id]
            wakeup.set()  # the endpoint may have its next delivery due

    def _record(self, job: _Job, outcome: Outcome) -> None:
        now = utcnow()
        slow = outcome.succeeded and outcome.duration_ms > self.settings.slow_seconds * 1000
        observability.WEBHOOK_DELIVERIES.labels(
            "succeeded" if outcome.succeeded else "failed"
        ).inc()
        error = outcome.error
        if slow:
            error = (
                f"slow: answered after {outcome.duration_ms} ms "
                f"(over {self.settings.slow_seconds:g} s)"
            )
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
                    error=error,
                    response_body=outcome.response_body,
                    duration_ms=outcome.duration_ms,
                    attempted_at=now,
                )
            )
            delivery.attempts = job.attempt
            delivery.last_status_code = outcome.status_code
            delivery.last_error = error
            delivery.claimed_until = None
            if outcome.succeeded:
                # Delivered, slow or not: the message is not sent again.
                delivery.status = "succeeded"
                delivery.delivered_at = now
                if not slow:
                    target.consecutive_failures = 0
                    return
            elif job.attempt >= self.settings.max_attempts:
                delivery.status = "failed"
            else:
                delivery.next_attempt_at = now + backoff(self.settings, job.attempt)
            target.consecutive_failures += 1
            limit = self.settings.disable_after_failures
            if target.enabled and target.consecutive_failures >= limit:
                target.enabled = False
                target.disabled_reason = f"disabled after {limit} consecutive failed deliveries"
                log.warning("webhook endpoint %s disabled after %d failures", target.id, limit)


def webhook_worker(db: Database, settings: WebhookSettings) -> WebhookWorker:
    """The worker as configured (``METERLINE_WEBHOOK_WORKER=false`` turns it off)."""
    return WebhookWorker(db, settings)
