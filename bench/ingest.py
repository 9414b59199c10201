"""The `ingest` benchmark (and `ingest_pg` with --database-url postgresql://…).

POST /v1/events/bulk, 100 events per request, 32 connections (wrk + Lua), every 202 sent
only after its batch is committed. In the same run it measures
  * the raw-insert ceiling: the same rows inserted into the same schema (same indexes)
    with plain executemany in large transactions, no HTTP, no dedup, no aggregates;
  * the load driver's ceiling: the same wrk script against a server that answers at once;
and checks that every acknowledged event is stored. Prints one JSON object per line.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    cpu_seconds,
    driver_ceiling,
    emit,
    require_wrk,
    rss_peak_mb,
    run_wrk,
    start_meterline,
)

HERE = Path(__file__).resolve().parent


def pg_database(admin_url: str) -> tuple[str, str]:
    name = f"meterline_bench_{uuid.uuid4().hex[:8]}"
    engine = create_engine(
        admin_url.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
    )
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return admin_url.rsplit("/", 1)[0] + "/" + name, name


def drop_pg_database(admin_url: str, name: str) -> None:
    engine = create_engine(
        admin_url.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
    )
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def stored_events(database_url: str) -> int:
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.connect() as conn:
        count = conn.execute(text("SELECT COUNT(*) FROM events")).scalar_one()
    engine.dispose()
    return int(count)


def raw_insert_ceiling(database_url: str, rows: int, batch: int) -> float:
    """Plain executemany of the same rows into the migrated schema, `batch` rows a commit."""
    from meterline.db.engine import Database
    from meterline.db.migrate import upgrade
    from meterline.settings import Settings

    upgrade(database_url)
    db = Database.connect(Settings(database_url=database_url))
    mark = "?" if db.is_sqlite else "%s"
    sql = (
        "INSERT INTO events (environment_id, event_id, event_name, external_customer_id, customer_id,"
        f" timestamp, ingested_at, source, properties) VALUES ({','.join([mark] * 9)})"
    )
    now = int(time.time() * 1_000_000)
    data = [
        (
            "env_bench",
            f"ceiling-{n}",
            "bench_call",
            f"c{n % 1000}",
            None,
            now + n,
            now + n,
            None,
            f'{{"tokens":"{n % 97}","model":"m{n % 3}"}}',
        )
        for n in range(rows)
    ]
    started = time.perf_counter()
    for start in range(0, rows, batch):
        with db.session() as session:
            session.connection().exec_driver_sql(sql, data[start : start + batch])
    elapsed = time.perf_counter() - started
    db.dispose()
    return rows / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--workers", type=int, default=1, help="server processes")
    parser.add_argument("--events-per-request", type=int, default=100)
    parser.add_argument("--ceiling-rows", type=int, default=300_000)
    args = parser.parse_args()

    wrk = require_wrk()
    tmp = Path(tempfile.mkdtemp(prefix="meterline-bench-"))
    admin_url = args.database_url
    pg_names: list[str] = []
    if admin_url and admin_url.startswith("postgresql"):
        url, name = pg_database(admin_url)
        ceiling_url, ceiling_name = pg_database(admin_url)
        pg_names += [name, ceiling_name]
        bench_id = "ingest_pg"
        store = "postgresql"
    else:
        url = f"sqlite:///{tmp / 'bench.db'}"
        ceiling_url = f"sqlite:///{tmp / 'ceiling.db'}"
        bench_id = "ingest"
        store = "sqlite"
    key = "sk_bench_" + uuid.uuid4().hex
    script = HERE / "ingest.lua"
    env = {"BENCH_KEY": key, "EVENTS_PER_REQUEST": str(args.events_per_request)}
    try:
        process, base, startup = start_meterline(url, key, workers=args.workers)
        try:
            meter = httpx.post(
                base + "/v1/meters",
                headers={"x-api-key": key},
                json={
                    "name": "bench",
                    "event_name": "bench_call",
                    "aggregation": {"type": "SUM", "field": "tokens"},
                    "reset_usage": "BILLING_PERIOD",
                },
            )
            meter.raise_for_status()
            run_wrk(
                wrk,
                base,
                script,
                threads=args.threads,
                connections=args.connections,
                seconds=3,
                env={**env, "BENCH_RUN": "warm"},
            )
            cpu_before = cpu_seconds(process.pid)
            result = run_wrk(
                wrk,
                base,
                script,
                threads=args.threads,
                connections=args.connections,
                seconds=args.seconds,
                env={**env, "BENCH_RUN": "main"},
            )
            server_cpu = cpu_seconds(process.pid) - cpu_before
            time.sleep(0.5)
            peak = rss_peak_mb(process.pid) if args.workers == 1 else 0.0
        finally:
            process.terminate()
            process.wait(timeout=30)
        stored = stored_events(url)
        acked = (result["requests"] - result["non_2xx"]) * args.events_per_request
        events_per_s = acked / result["seconds"]

        ceiling = raw_insert_ceiling(ceiling_url, args.ceiling_rows, batch=10_000)

        driver = driver_ceiling(
            wrk,
            script,
            threads=args.threads,
            connections=args.connections,
            seconds=min(args.seconds, 10),
            env={**env, "BENCH_RUN": "driver"},
        )
        driver_eps = driver["requests"] * args.events_per_request / driver["seconds"]
        emit(
            bench=bench_id,
            store=store,
            events_per_s=round(events_per_s),
            requests_per_s=round(result["requests"] / result["seconds"], 1),
            p50_ms=round(result["p50_ms"], 2),
            p99_ms=round(result["p99_ms"], 2),
            non_2xx=result["non_2xx"],
            acknowledged_events=acked,
            stored_events=stored,
            lost_events=max(0, acked - stored),
            raw_insert_ceiling_events_per_s=round(ceiling),
            ratio_to_ceiling=round(events_per_s / ceiling, 3),
            driver_ceiling_events_per_s=round(driver_eps),
            # CPU the server spent per acknowledged event: steadier than events/s on a
            # shared, noisy machine.
            server_cpu_us_per_event=round(server_cpu / max(acked, 1) * 1e6, 2),
            load_average_1m=os.getloadavg()[0],
            connections=args.connections,
            events_per_request=args.events_per_request,
            seconds=args.seconds,
            cores=os.cpu_count(),
        )
        emit(bench="memory", store=store, server_rss_peak_mb=peak, events_stored=stored)
        emit(bench="startup", store=store, seconds_to_healthy=round(startup, 3))
    finally:
        if admin_url and pg_names:
            for name in pg_names:
                drop_pg_database(admin_url, name)


if __name__ == "__main__":
    main()
