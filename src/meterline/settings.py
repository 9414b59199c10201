"""Runtime configuration, read from ``METERLINE_*`` environment variables."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="METERLINE_", extra="ignore")

    database_url: str = "sqlite:///./meterline.db"
    bootstrap_key: str | None = None

    # Request limits (documented in the README and the OpenAPI schema).
    max_body_bytes: int = 8 * 1024 * 1024
    max_batch_events: int = 1000
    max_properties_bytes: int = 64 * 1024
    # A request body must arrive whole within this many seconds (from the first byte
    # awaited), else 408 and the connection is closed: a slow client holds no slot.
    body_timeout_seconds: float = 10.0
    # JSON bodies may nest arrays and objects at most this deep (refused with a 400).
    max_json_depth: int = 128

    # Rate limit per API key (token bucket, per process): requests per second and burst.
    # 0 = off (the default, so benchmarks measure the server). Burst 0 = one second's worth.
    rate_limit_per_second: float = 0
    rate_limit_burst: int = 0

    # Group commit: the writer takes whatever is queued, up to this many events per transaction.
    ingest_max_batch: int = 20_000
    ingest_queue_limit: int = 200_000

    # Requests that may hold a database session at once (per process); more wait, without
    # holding a thread or a connection. Each pool is sized above this (see db/engine.py), so
    # a request that holds a connection always finds a thread to finish on: a pool smaller
    # than the thread pool can otherwise starve until the pool times out.
    max_concurrent_requests: int = 32
    # Connection pool for PostgreSQL (per process): at least max_concurrent_requests + 6.
    pool_size: int = 24
    pool_max_overflow: int = 16

    # SQLite page cache, in KiB (negative cache_size pragma).
    sqlite_cache_kib: int = 65_536
    # WAL pages before a commit checkpoints by itself; the server's background checkpointer
    # normally gets there first. A safety net, not the mechanism.
    sqlite_autocheckpoint_pages: int = 50_000

    # Where events live: "sql" (the catalog database) or "clickhouse" (catalog and money
    # stay in the SQL database). METERLINE_CLICKHOUSE_URL is http(s)://user:pass@host:8123/db
    # for a server, or chdb:///path/to/dir for the in-process engine (one process only).
    event_store: Literal["sql", "clickhouse"] = "sql"
    clickhouse_url: str | None = None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
