"""The `report` benchmark: Kaiten POST .../usage (append 1) on one hard-limited entitlement,
50 concurrent reporters (wrk + Lua), embedded SQLite unless --database-url is given.

Phase `throughput`: a hard limit too high to reach in the run, so every report is folded,
checked against the limit, written with its ledger row and committed. Phase `limit`: a hard
limit of --limit; the run goes well past it, and the benchmark confirms that exactly
--limit reports were accepted and the counter stands at the limit. In the same run it
measures the ceilings: a bare FastAPI app parsing the same body (the server's logic taken
out) and the load driver against a server that answers at once. One JSON object a line.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    driver_ceiling,
    emit,
    free_port,
    licensed_instance,
    require_wrk,
    run_wrk,
    start_meterline,
)

HERE = Path(__file__).resolve().parent
CONNECTIONS = 50


def setup(base: str, key: str, limit: int, slug: str) -> str:
    """An instance whose license grants `slug` with a hard limit; returns the usage path."""
    with httpx.Client(
        base_url=base + "/api", headers={"Authorization": f"Bearer {key}"}, timeout=30
    ) as api:

        def ok(response: httpx.Response) -> httpx.Response:
            assert response.status_code < 300, response.text
            return response

        ok(api.post("/entitlements", json={"name": slug, "slug": slug, "description": None}))
        lic = ok(api.post("/licenses", json={"name": slug, "slug": f"{slug}-lic", "type": "PAID"}))
        ok(
            api.post(
                f"/licenses/{slug}-lic/entitlements",
                json={
                    "entitlementSlug": slug,
                    "value": {"type": "number", "value": limit},
                    "limitCapExceededOveragePercent": 0,
                },
            )
        )
        licensed_instance(api, slug, lic.json()["id"])
    return f"/api/instances/{slug}-inst/entitlements/{slug}/usage"


def usage_value(base: str, key: str, path: str) -> tuple[float, int]:
    body = httpx.get(base + path, headers={"Authorization": f"Bearer {key}"}).json()
    return body["value"]["value"], body["value"].get("event_count", 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--limit", type=int, default=500, help="hard limit of the limit phase")
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    args = parser.parse_args()

    wrk = require_wrk()
    script = HERE / "report.lua"
    key = "sk_bench_" + uuid.uuid4().hex
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/report.db"
        backend = "postgresql" if url.startswith("postgres") else "sqlite"
        server, base, _ = start_meterline(url, key)
        try:
            run = uuid.uuid4().hex[:6]
            path = setup(base, key, 10**12, f"jobs-{run}")
            run_wrk(
                wrk,
                base,
                script,
                threads=args.threads,
                connections=CONNECTIONS,
                seconds=2,
                env={"BENCH_KEY": key, "REPORT_PATH": path},
            )  # warm-up
            before, _ = usage_value(base, key, path)
            result = run_wrk(
                wrk,
                base,
                script,
                threads=args.threads,
                connections=CONNECTIONS,
                seconds=args.seconds,
                env={"BENCH_KEY": key, "REPORT_PATH": path},
            )
            after, _ = usage_value(base, key, path)
            accepted = result["requests"] - result["non_2xx"]
            ours = result["requests"] / result["seconds"]
            emit(
                bench="report",
                phase="throughput",
                backend=backend,
                connections=CONNECTIONS,
                reports=result["requests"],
                accepted=accepted,
                counted=int(after - before),
                reports_per_s=round(ours),
                p50_ms=round(result["p50_ms"], 2),
                p99_ms=round(result["p99_ms"], 2),
                socket_errors=result["socket_errors"],
                goal_reports_per_s=3000,
            )

            limited = setup(base, key, args.limit, f"capped-{run}")
            capped = run_wrk(
                wrk,
                base,
                script,
                threads=args.threads,
                connections=CONNECTIONS,
                seconds=max(3, args.seconds // 2),
                env={"BENCH_KEY": key, "REPORT_PATH": limited},
            )
            value, count = usage_value(base, key, limited)
            capped_accepted = capped["requests"] - capped["non_2xx"]
            emit(
                bench="report",
                phase="limit",
                backend=backend,
                hard_limit=args.limit,
                reports=capped["requests"],
                accepted=capped_accepted,
                refused=capped["non_2xx"],
                final_value=value,
                event_count=count,
                limit_held=value == args.limit and capped_accepted == args.limit == count,
            )
        finally:
            server.terminate()
            server.wait()

    # Ceiling 1: the same requests against a bare FastAPI app that only parses the body.
    port = free_port()
    bare = subprocess.Popen([sys.executable, str(HERE / "bare_report_server.py"), str(port)])
    try:
        _wait(f"http://127.0.0.1:{port}")
        ceiling = run_wrk(
            wrk,
            f"http://127.0.0.1:{port}",
            script,
            threads=args.threads,
            connections=CONNECTIONS,
            seconds=max(3, args.seconds // 2),
            env={"BENCH_KEY": key, "REPORT_PATH": path},
        )
    finally:
        bare.terminate()
        bare.wait()
    ceiling_rps = ceiling["requests"] / ceiling["seconds"]
    emit(
        bench="report",
        phase="ceiling_bare_fastapi",
        requests_per_s=round(ceiling_rps),
        ratio=round(ours / ceiling_rps, 3),
    )

    # Ceiling 2: the load driver against a server that answers at once.
    driver = driver_ceiling(
        wrk,
        script,
        threads=args.threads,
        connections=CONNECTIONS,
        seconds=3,
        env={"BENCH_KEY": key, "REPORT_PATH": path},
    )
    emit(
        bench="report",
        phase="ceiling_driver",
        requests_per_s=round(driver["requests"] / driver["seconds"]),
        at=datetime.now(UTC).isoformat(),
    )


def _wait(base: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(base + "/docs", timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise RuntimeError("bare server did not start")


if __name__ == "__main__":
    main()
