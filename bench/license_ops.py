"""The `license_ops` benchmark: machine activations/s and heartbeats/s over HTTP (wrk +
Lua, 50 connections), embedded SQLite unless --database-url is given.

Phase `activate`: every request activates a new fingerprint under one instance whose
license allows --max-machines machines (by default more than a run reaches, so every
request activates; a small limit measures refusals instead); the benchmark confirms that
the machines listed are those acknowledged (plus at most one in flight per connection when
the run ends) and never more than the limit.
Phase `heartbeat`: every request is a heartbeat of one machine (a policy with a
heartbeat interval, so each beat moves its deadlines and commits). Then the ceiling: the
load driver against a server that answers at once. One JSON object a line; the goals are
issue 22's (activations >= 1,000/s, heartbeats >= 5,000/s).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import uuid
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import driver_ceiling, emit, licensed_instance, require_wrk, run_wrk, start_meterline

HERE = Path(__file__).resolve().parent
CONNECTIONS = 50


def setup(api: httpx.Client, slug: str, max_machines: int) -> str:
    """An instance whose license's machine policy allows ``max_machines``; its slug."""

    def ok(response: httpx.Response) -> httpx.Response:
        assert response.status_code < 300, response.text
        return response

    lic = ok(api.post("/licenses", json={"name": slug, "slug": f"{slug}-lic", "type": "PAID"}))
    policy = {"maxMachines": max_machines, "heartbeatIntervalSeconds": 3600}
    ok(api.put(f"/licenses/{slug}-lic/machine-policy", json=policy))
    return licensed_instance(api, slug, lic.json()["id"])


def count_machines(api: httpx.Client, instance: str) -> int:
    total, cursor = 0, None
    while True:
        params: dict[str, str | int] = {"limit": 200, **({"cursor": cursor} if cursor else {})}
        page = api.get(f"/instances/{instance}/machines", params=params).json()
        total += len(page["items"])
        if not page["hasMore"]:
            return total
        cursor = page["nextCursor"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument(
        "--max-machines", type=int, default=1_000_000, help="the instance's machine limit"
    )
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    args = parser.parse_args()

    wrk = require_wrk()
    script = HERE / "license_ops.lua"
    key = "sk_bench_" + uuid.uuid4().hex
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/license_ops.db"
        backend = "postgresql" if url.startswith("postgres") else "sqlite"
        server, base, _ = start_meterline(url, key)
        env = {"BENCH_KEY": key}
        try:
            with httpx.Client(
                base_url=base + "/api", headers={"Authorization": f"Bearer {key}"}, timeout=30
            ) as api:
                run = uuid.uuid4().hex[:6]
                instance = setup(api, f"ops-{run}", args.max_machines)
                machines = f"/api/instances/{instance}/machines"
                result = run_wrk(
                    wrk,
                    base,
                    script,
                    threads=args.threads,
                    connections=CONNECTIONS,
                    seconds=args.seconds,
                    env={**env, "MODE": "activate", "MACHINES_PATH": machines},
                )
                active = count_machines(api, instance)
                accepted = result["requests"] - result["non_2xx"]
                emit(
                    bench="license_ops",
                    phase="activate",
                    backend=backend,
                    connections=CONNECTIONS,
                    requests=result["requests"],
                    activated=accepted,
                    refused=result["non_2xx"],
                    machines=active,
                    # wrk stops counting at the deadline; the requests in flight then
                    # still commit, so up to one per connection more are listed
                    in_flight_at_end=active - accepted,
                    limit_held=active <= args.max_machines
                    and 0 <= active - accepted <= CONNECTIONS,
                    activations_per_s=round(accepted / result["seconds"]),
                    requests_per_s=round(result["requests"] / result["seconds"]),
                    p50_ms=round(result["p50_ms"], 2),
                    p99_ms=round(result["p99_ms"], 2),
                    socket_errors=result["socket_errors"],
                    goal_activations_per_s=1000,
                )

                beating = setup(api, f"beat-{run}", 1)
                machine = api.post(
                    f"/instances/{beating}/machines", json={"fingerprint": "bench"}
                ).json()["id"]
                path = f"/api/instances/{beating}/machines/{machine}/heartbeat"
                beats = run_wrk(
                    wrk,
                    base,
                    script,
                    threads=args.threads,
                    connections=CONNECTIONS,
                    seconds=args.seconds,
                    env={**env, "MODE": "heartbeat", "HEARTBEAT_PATH": path},
                )
                emit(
                    bench="license_ops",
                    phase="heartbeat",
                    backend=backend,
                    connections=CONNECTIONS,
                    requests=beats["requests"],
                    refused=beats["non_2xx"],
                    heartbeats_per_s=round(beats["requests"] / beats["seconds"]),
                    p50_ms=round(beats["p50_ms"], 2),
                    p99_ms=round(beats["p99_ms"], 2),
                    socket_errors=beats["socket_errors"],
                    goal_heartbeats_per_s=5000,
                )
        finally:
            server.terminate()
            server.wait()

    # The ceiling: the load driver against a server that answers at once.
    driver = driver_ceiling(
        wrk,
        script,
        threads=args.threads,
        connections=CONNECTIONS,
        seconds=3,
        env={**env, "MODE": "heartbeat"},
    )
    emit(
        bench="license_ops",
        phase="ceiling_driver",
        requests_per_s=round(driver["requests"] / driver["seconds"]),
    )


if __name__ == "__main__":
    main()
