"""Shared pieces of the benchmarks: servers, wrk, JSON lines."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent


def emit(**fields: Any) -> None:
    print(json.dumps(fields), flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def require_wrk() -> str:
    path = shutil.which("wrk")
    if path:
        return path
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=False, capture_output=True)
    path = shutil.which("wrk")
    if not path:
        sys.exit("wrk is needed: apt-get install wrk")
    return path


def wait_healthy(base_url: str, process: subprocess.Popen[bytes], timeout: float = 60) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if process.poll() is not None:
            raise RuntimeError("server exited")
        try:
            if httpx.get(base_url + "/health", timeout=1).status_code == 200:
                return time.monotonic() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.02)
    raise RuntimeError("server did not start")


def start_meterline(
    database_url: str, key: str, extra_env: dict[str, str] | None = None, workers: int = 1
) -> tuple[subprocess.Popen[bytes], str, float]:
    port = free_port()
    env = {
        **os.environ,
        "METERLINE_DATABASE_URL": database_url,
        "METERLINE_BOOTSTRAP_KEY": key,
        **(extra_env or {}),
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "meterline",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    startup = wait_healthy(base, process)
    return process, base, startup


def run_wrk(
    wrk: str,
    base_url: str,
    script: Path,
    *,
    threads: int,
    connections: int,
    seconds: int,
    env: dict[str, str],
) -> dict[str, Any]:
    out = subprocess.run(
        [
            wrk,
            f"-t{threads}",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "-s",
            str(script),
            base_url,
        ],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    for line in out.stdout.splitlines():
        if line.startswith("JSON "):
            return dict(json.loads(line[5:]))
    raise RuntimeError("wrk printed no summary:\n" + out.stdout + out.stderr)


def driver_ceiling(
    wrk: str, script: Path, *, threads: int, connections: int, seconds: int, env: dict[str, str]
) -> dict[str, Any]:
    """The load driver's own ceiling: ``script`` run by wrk against a server that answers
    every request at once (``instant_server.py``)."""
    port = free_port()
    instant = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("instant_server.py")), str(port)]
    )
    try:
        time.sleep(0.5)
        return run_wrk(
            wrk,
            f"http://127.0.0.1:{port}",
            script,
            threads=threads,
            connections=connections,
            seconds=seconds,
            env=env,
        )
    finally:
        instant.terminate()
        instant.wait()


def licensed_instance(api: Any, slug: str, license_id: str) -> str:
    """A customer and an instance (slug ``<slug>-inst``) on the license, valid 2026-2036,
    through the Kaiten API client ``api``; its slug."""
    customer = api.post("/customers", json={"name": f"{slug} customer"})
    customer.raise_for_status()
    instance = api.post(
        "/instances",
        json={
            "name": f"{slug} instance",
            "slug": f"{slug}-inst",
            "customerId": customer.json()["id"],
            "licenseId": license_id,
            "startLicenseDate": "2026-01-01T00:00:00Z",
            "endLicenseDate": "2036-01-01T00:00:00Z",
        },
    )
    instance.raise_for_status()
    return f"{slug}-inst"


def rss_peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def rss_now_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its reaped children, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks
