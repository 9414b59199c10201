"""Runtime configuration: one ``Settings`` with a section per concern, read from
``METERLINE_*`` environment variables.

Built once, by the process's entry point (``app.create_app``, the CLI commands, the demo,
the migrations' ``env.py``), and handed down: nothing below them reads the environment.

Every variable keeps the flat name it has always had (``METERLINE_BODY_TIMEOUT_SECONDS``,
``METERLINE_WEBHOOK_WORKER``, ...); :data:`ENVIRONMENT` maps each name to the setting it
sets, and is the one list of them (README and docs name no other). Names are read case-
insensitively, as before. Keyword arguments take the same flat names without the prefix,
lower-case (``Settings(database_url=...)``), or whole sections (``Settings(database=...)``).
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

PREFIX = "METERLINE_"


class DatabaseSettings(BaseModel):
    """The catalog database (and the SQL event store)."""

    url: str = "sqlite:///./meterline.db"
    # Connection pool for PostgreSQL (per process): at least
    # http.max_concurrent_requests + 6 (db/engine.py checks).
    pool_size: int = 24
    pool_max_overflow: int = 16
    # SQLite page cache, in KiB (negative cache_size pragma).
    sqlite_cache_kib: int = 65_536
    # WAL pages before a commit checkpoints by itself; the server's background checkpointer
    # normally gets there first. A safety net, not the mechanism.
    sqlite_autocheckpoint_pages: int = 50_000


class HttpSettings(BaseModel):
    """Request limits (documented in the README and the OpenAPI schema)."""

    max_body_bytes: int = 8 * 1024 * 1024
    # Bodies on /api (Kaiten) are limited as Kaiten limits them: 1 MiB, else 413.
    max_api_body_bytes: int = 1024 * 1024
    # A request body must arrive whole within this many seconds (from the first byte
    # awaited), else 408 and the connection is closed: a slow client holds no slot.
    body_timeout_seconds: float = 10.0
    # JSON bodies may nest arrays and objects at most this deep (refused with a 400).
    max_json_depth: int = 128
    # Requests that may hold a database session at once (per process); more wait, without
    # holding a thread or a connection. Each pool is sized above this (see db/engine.py), so
    # a request that holds a connection always finds a thread to finish on: a pool smaller
    # than the thread pool can otherwise starve until the pool times out.
    max_concurrent_requests: int = 32
    # Rate limit per API key (token bucket, per process): requests per second and burst.
    # 0 = off (the default, so benchmarks measure the server). Burst 0 = one second's worth.
    rate_limit_per_second: float = 0
    rate_limit_burst: int = 0


class IngestSettings(BaseModel):
    """Event ingestion: what one request may carry, and the group-commit writer."""

    max_batch_events: int = 1000
    max_properties_bytes: int = 64 * 1024
    # Group commit: the writer takes whatever is queued, up to this many events per transaction.
    writer_max_batch: int = 20_000
    queue_limit: int = 200_000


class EventStoreSettings(BaseModel):
    """Where events live: "sql" (the catalog database) or "clickhouse" (catalog and money
    stay in the SQL database). ``clickhouse_url`` is http(s)://user:pass@host:8123/db for a
    server, or chdb:///path/to/dir for the in-process engine (one process only)."""

    store: Literal["sql", "clickhouse"] = "sql"
    clickhouse_url: str | None = None


class BillingSettings(BaseModel):
    """The billing clock."""

    # Seconds between runs of the clock inside ``meterline serve``; 0 = off.
    interval_seconds: float = 60
    # Drafts stay open for late events this long after their period ends.
    grace_seconds: float = 3600
    # subscription.renewal.due is sent once a period, when the period ends within this many
    # seconds (default 3 days); 0 = never.
    renewal_lead_seconds: float = Field(default=3 * 86400, ge=0, le=366 * 86400)

    @property
    def grace(self) -> timedelta:
        return timedelta(seconds=self.grace_seconds)

    @property
    def renewal_lead(self) -> timedelta:
        return timedelta(seconds=self.renewal_lead_seconds)


class WebhookSettings(BaseModel):
    """Webhook delivery."""

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


class PaymentSettings(BaseModel):
    """Payment providers (payments/providers.py). The offline provider needs nothing; the
    Stripe provider is on when ``stripe_api_key`` is set."""

    # A Stripe secret key (sk_live_…/sk_test_…); unset = payments through Stripe are refused.
    stripe_api_key: str | None = None
    # Where the Stripe API is (tests point it at a local Stripe test server).
    stripe_base_url: str = "https://api.stripe.com"
    # One request to Stripe ends after this many seconds: the payment is then recorded as
    # failed with the provider's error, and the invoice is left as it was.
    stripe_timeout_seconds: float = Field(default=20.0, gt=0, le=120)


class AlertJobSettings(BaseModel):
    """The alerts job (``alerts/job.py``)."""

    # Seconds between scans of every enabled alert setting inside ``meterline serve``
    # (alerts on usage also fire as events arrive); 0 = the job is off.
    scan_seconds: float = 60


def _section(name: str, fields: type[BaseModel], prefix: str = "") -> dict[str, tuple[str, str]]:
    return {f"{PREFIX}{prefix}{field}".upper(): (name, field) for field in fields.model_fields}


# Every environment variable, and the (section, field) it sets; None = a top-level field.
ENVIRONMENT: dict[str, tuple[str | None, str]] = {
    f"{PREFIX}BOOTSTRAP_KEY": (None, "bootstrap_key"),
    f"{PREFIX}DATABASE_URL": ("database", "url"),
    **{k: v for k, v in _section("database", DatabaseSettings).items() if v[1] != "url"},
    **_section("http", HttpSettings),
    f"{PREFIX}MAX_BATCH_EVENTS": ("ingest", "max_batch_events"),
    f"{PREFIX}MAX_PROPERTIES_BYTES": ("ingest", "max_properties_bytes"),
    f"{PREFIX}INGEST_MAX_BATCH": ("ingest", "writer_max_batch"),
    f"{PREFIX}INGEST_QUEUE_LIMIT": ("ingest", "queue_limit"),
    f"{PREFIX}EVENT_STORE": ("events", "store"),
    f"{PREFIX}CLICKHOUSE_URL": ("events", "clickhouse_url"),
    **_section("billing", BillingSettings, "BILLING_"),
    **_section("webhooks", WebhookSettings, "WEBHOOK_"),
    **_section("payments", PaymentSettings),
    **_section("alerts", AlertJobSettings, "ALERTS_"),
}
# Keyword arguments by their flat name: METERLINE_DATABASE_URL → database_url.
_FLAT = {name[len(PREFIX) :].lower(): target for name, target in ENVIRONMENT.items()}


def _nest(flat: dict[str, Any]) -> dict[str, Any]:
    nested: dict[str, Any] = {}
    for name, value in flat.items():
        section, field = _FLAT[name]
        if section is None:
            nested[field] = value
        else:
            nested.setdefault(section, {})[field] = value
    return nested


class _Environment(PydanticBaseSettingsSource):
    """The variables of :data:`ENVIRONMENT`, nested into their sections."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ reads every variable at once

    def __call__(self) -> dict[str, Any]:
        present = {name.upper(): value for name, value in os.environ.items()}
        flat = {
            name[len(PREFIX) :].lower(): present[name] for name in ENVIRONMENT if name in present
        }
        return _nest(flat)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    bootstrap_key: str | None = None
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    events: EventStoreSettings = Field(default_factory=EventStoreSettings)
    billing: BillingSettings = Field(default_factory=BillingSettings)
    webhooks: WebhookSettings = Field(default_factory=WebhookSettings)
    payments: PaymentSettings = Field(default_factory=PaymentSettings)
    alerts: AlertJobSettings = Field(default_factory=AlertJobSettings)

    @model_validator(mode="before")
    @classmethod
    def _flat_keywords(cls, data: Any) -> Any:
        """``Settings(database_url=...)``: flat names over whatever the environment says."""
        if not isinstance(data, dict):
            return data
        flat = {k: data[k] for k in list(data) if k in _FLAT and _FLAT[k][0] is not None}
        if not flat:
            return data
        merged = {k: v for k, v in data.items() if k not in flat}
        for section, values in _nest(flat).items():
            current = merged.get(section)
            if isinstance(current, BaseModel):
                current = current.model_dump()
            merged[section] = {**(current or {}), **values}
        return merged

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, _Environment(settings_cls)
