"""Webhook settings, read from ``METERLINE_WEBHOOK_*`` environment variables."""

from __future__ import annotations

from functools import lru_cache

from pydantic_settings import BaseSettings, SettingsConfigDict


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
    # Failed (or slow) deliveries in a row after which an endpoint is disabled.
    disable_after_failures: int = 10
    # The whole of one attempt (connect, send, answer) ends after this many seconds: an
    # endpoint that has not answered by then has failed.
    timeout_seconds: float = 10.0
    # An endpoint that answers 2xx but takes longer than this counts the attempt as a
    # failure towards being disabled (the message was delivered and is not sent again).
    slow_seconds: float = 5.0
    # Attempts in flight at once (per process). Each endpoint has at most one, and one
    # environment at most half of them, so a slow endpoint delays only its own deliveries.
    concurrency: int = 8
    # Deliver to loopback, private, link-local (cloud metadata), unspecified, multicast and
    # other non-public addresses. Off by default: such URLs are refused when registered and
    # when delivered (DNS can change in between). For development and tests.
    allow_private: bool = False


@lru_cache(maxsize=1)
def get_webhook_settings() -> WebhookSettings:
    return WebhookSettings()
