"""The `query_customer` and `query_all` benchmarks on SQLite, PostgreSQL and ClickHouse.

Loads N events (default 10 million: 1,000 customers, one SUM meter, spread evenly over 30
days) straight into each event store through its own ``insert`` (the path the group-commit
writer uses, in batches of 20,000; no HTTP), then measures

  * ``store_load``: events/s of that insert path (dedup check, aggregates) on one stream;
  * ``query_customer``: 30 daily buckets of one customer and meter (the usage API's reader),
    p50 and p99 over 50 customers;
  * ``query_all``: the daily usage of every customer for the month (the dashboard query:
    daily aggregates on SQL, aggregation in ClickHouse), median of 5 runs.

On ClickHouse both dedup reads are measured: ``FINAL`` and the ``argMax`` group-by.
Prints one JSON object per line.

    python bench/query.py --events 10000000 --stores sqlite,postgresql,clickhouse \
        --postgres-url postgresql://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import emit
from meterline.db.engine import Database
from meterline.kernel.instants import to_micros
from meterline.metering.aggregations import MeterSpec
from meterline.metering.dashboard import DAY_US, daily_usage_by_customer
from meterline.metering.ingest import EventRow
from meterline.metering.query import UsageQuery, UsageReader
from meterline.settings import Settings

START = to_micros(datetime(2026, 3, 1, tzinfo=UTC))
DAYS = 30
BATCH = 20_000


def events(total: int, customers: int, environment_id: str) -> Iterator[list[EventRow]]:
    step = DAYS * DAY_US // total
    batch: list[EventRow] = []
    for n in range(total):
        tokens = n % 100
        batch.append(
            EventRow(
                environment_id=environment_id,
                event_id=f"evt_{n:09d}",
                event_name="bench_call",
                external_customer_id=f"cust_{n % customers:05d}",
                customer_id=None,
                timestamp=START + n * step,
                source=None,
                properties={"tokens": tokens, "model": "m1"},
                properties_json=f'{{"tokens":{tokens},"model":"m1"}}',
            )
        )
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def timed(function: Callable[[], Any]) -> float:
    began = time.perf_counter()
    function()
    return (time.perf_counter() - began) * 1000


def measure(
    store_name: str,
    reader: UsageReader,
    conn_factory: Callable[[], Any],
    meter: MeterSpec,
    customers: int,
    total: int,
    extra: dict[str, Any],
) -> None:
    end = START + DAYS * DAY_US
    samples = []
    for i in range(50):
        customer = f"cust_{(i * 7919) % customers:05d}"
        query = UsageQuery(meter=meter, start=START, end=end, customer=customer, window="DAY")
        with conn_factory() as conn:
            samples.append(timed(lambda q=query, c=conn: reader.query(c, q)))
    with conn_factory() as conn:
        check = reader.query(
            conn, UsageQuery(meter=meter, start=START, end=end, customer="cust_00000", window="DAY")
        )
    emit(
        bench="query_customer",
        store=store_name,
        events=total,
        p50_ms=round(statistics.median(samples), 2),
        p99_ms=round(sorted(samples)[int(len(samples) * 0.99) - 1], 2),
        windows=len(check.windows),
        **extra,
    )
    runs = []
    result: dict[str, Any] = {}
    for _ in range(5):
        with conn_factory() as conn:
            began = time.perf_counter()
            result = daily_usage_by_customer(reader, conn, meter, START, end)
            runs.append((time.perf_counter() - began) * 1000)
    emit(
        bench="query_all",
        store=store_name,
        events=total,
        median_ms=round(statistics.median(runs), 1),
        customers=len(result),
        customer_days=sum(len(days) for days in result.values()),
        total=str(sum(sum(days.values()) for days in result.values())),
        **extra,
    )


class _SqlConn:
    def __init__(self, db: Database) -> None:
        self.db = db

    def __enter__(self) -> Any:
        self._session = self.db.session(write=False)
        return self._session.__enter__().connection()

    def __exit__(self, *exc: object) -> None:
        self._session.__exit__(None, None, None)


def run_sql(store_name: str, url: str, total: int, customers: int) -> None:
    from meterline.accounts import service as accounts
    from meterline.catalog.models import Meter
    from meterline.db.migrate import upgrade
    from meterline.metering.service import meter_spec
    from meterline.metering.stores.sql import SqlEventStore

    upgrade(url)
    db = Database.connect(Settings(database_url=url))
    with db.session() as session:
        environment_id = accounts.ensure_default_account(session).environment.id
        row = Meter(
            environment_id=environment_id,
            name="bench",
            event_name="bench_call",
            aggregation_type="SUM",
            aggregation_field="tokens",
            filters=[],
            reset_usage="BILLING_PERIOD",
        )
        session.add(row)
        session.flush()
        meter = meter_spec(row)
    store = SqlEventStore(db.dialect)
    began = time.perf_counter()
    for batch in events(total, customers, environment_id):
        with db.session() as session:
            store.insert(session.connection(), batch)
    elapsed = time.perf_counter() - began
    emit(bench="store_load", store=store_name, events=total, events_per_s=round(total / elapsed))
    # Fresh planner statistics, as autovacuum would have them after a bulk load.
    with db.write_engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        conn.commit()
    measure(store_name, UsageReader(store), lambda: _SqlConn(db), meter, customers, total, {})
    db.dispose()


class _NoConn:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def run_clickhouse(url: str, total: int, customers: int) -> None:
    from meterline.metering.stores.clickhouse import ClickHouseEventStore
    from meterline.metering.stores.clickhouse_query import ClickHouseUsageReader

    store = ClickHouseEventStore.from_url(url)
    environment_id = "env_bench_" + uuid.uuid4().hex[:8]
    meter = MeterSpec(
        id="bench",
        environment_id=environment_id,
        event_name="bench_call",
        aggregation_type="SUM",
        field="tokens",
    )
    began = time.perf_counter()
    for batch in events(total, customers, environment_id):
        store.insert(None, batch)
    elapsed = time.perf_counter() - began
    emit(bench="store_load", store="clickhouse", events=total, events_per_s=round(total / elapsed))
    for dedup in ("final", "argmax"):
        reader_store = ClickHouseEventStore(
            store.client, store.database, serialize=store._lock is not None, dedup=dedup
        )
        reader_store._lock = store._lock  # one engine in this process: one lock
        measure(
            "clickhouse",
            ClickHouseUsageReader(reader_store),
            _NoConn,
            meter,
            customers,
            total,
            {"dedup": dedup},
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--customers", type=int, default=1_000)
    parser.add_argument("--stores", default="sqlite,postgresql,clickhouse")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("METERLINE_BENCH_POSTGRES_URL"),
        help="an admin URL; a fresh database is created next to it and dropped after",
    )
    parser.add_argument("--clickhouse-url", default=None, help="default: chdb in a temp dir")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="meterline-query-"))
    for store in args.stores.split(","):
        if store == "sqlite":
            run_sql("sqlite", f"sqlite:///{tmp / 'bench.db'}", args.events, args.customers)
        elif store == "postgresql":
            if not args.postgres_url:
                emit(bench="query_all", store="postgresql", skipped="no --postgres-url")
                continue
            admin = create_engine(
                args.postgres_url.replace("postgresql://", "postgresql+psycopg://", 1),
                isolation_level="AUTOCOMMIT",
            )
            name = f"meterline_query_{uuid.uuid4().hex[:8]}"
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            try:
                url = args.postgres_url.rsplit("/", 1)[0] + "/" + name
                run_sql("postgresql", url, args.events, args.customers)
            finally:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                admin.dispose()
        elif store == "clickhouse":
            run_clickhouse(
                args.clickhouse_url or f"chdb://{tmp / 'ch'}", args.events, args.customers
            )
        else:
            raise SystemExit(f"unknown store {store}")


if __name__ == "__main__":
    main()
