"""The `reserve` benchmark: reservations on one hard-limited Kaiten counter, hold 2 then
settle 1, over HTTP (wrk + Lua, 50 connections), embedded SQLite unless --database-url.

Phase `throughput`: a limit too high to reach, so every hold is admitted and settled.
Phase `limit`: a hard limit of --limit; holds are refused once the counter and the live
holds reach it, and the benchmark confirms the counter never passes it (0 overruns). Then
the load driver's ceiling. One JSON object a line; the goal is issue 22's (>= 2,000
hold+settle pairs/s, 0 overruns).
"""

from __future__ import annotations

import sys
import tempfile
import uuid
from argparse import ArgumentParser
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import driver_ceiling, emit, require_wrk, run_wrk, start_meterline
from report import setup

HERE = Path(__file__).resolve().parent
CONNECTIONS = 50


def counter(base: str, key: str, usage_path: str) -> float:
    body = httpx.get(base + usage_path, headers={"Authorization": f"Bearer {key}"}).json()
    return float(body["value"]["value"])


def main() -> None:
    parser = ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--limit", type=int, default=500, help="hard limit of the limit phase")
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    args = parser.parse_args()

    wrk = require_wrk()
    script = HERE / "reserve.lua"
    key = "sk_bench_" + uuid.uuid4().hex
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/reserve.db"
        backend = "postgresql" if url.startswith("postgres") else "sqlite"
        server, base, _ = start_meterline(url, key)
        try:
            run = uuid.uuid4().hex[:6]
            for phase, limit in (("throughput", 10**12), ("limit", args.limit)):
                usage_path = setup(base, key, limit, f"{phase}-{run}")
                holds = usage_path.removesuffix("/usage") + "/reservations"
                result = run_wrk(
                    wrk,
                    base,
                    script,
                    threads=args.threads,
                    connections=CONNECTIONS,
                    seconds=args.seconds,
                    env={"BENCH_KEY": key, "HOLDS_PATH": holds},
                )
                value = counter(base, key, usage_path)
                ok = result["requests"] - result["non_2xx"]
                emit(
                    bench="reserve",
                    phase=phase,
                    backend=backend,
                    connections=CONNECTIONS,
                    requests=result["requests"],
                    refused=result["non_2xx"],
                    # a pair is a hold and its settlement: two answered requests
                    pairs_per_s=round(ok / 2 / result["seconds"]),
                    settled_total=value,
                    overruns=int(value > limit),
                    p50_ms=round(result["p50_ms"], 2),
                    p99_ms=round(result["p99_ms"], 2),
                    socket_errors=result["socket_errors"],
                    goal_pairs_per_s=2000,
                )
        finally:
            server.terminate()
            server.wait()

    driver = driver_ceiling(
        wrk,
        script,
        threads=args.threads,
        connections=CONNECTIONS,
        seconds=3,
        env={"BENCH_KEY": key},
    )
    rate = round(driver["requests"] / driver["seconds"])
    emit(bench="reserve", phase="ceiling_driver", requests_per_s=rate)


if __name__ == "__main__":
    main()
