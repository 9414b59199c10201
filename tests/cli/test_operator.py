"""The operator's command line against a real server and database, on SQLite and PostgreSQL:
``serve``'s banner says where things are, and ``--key-file`` keeps one key across starts;
``keys list`` and ``keys revoke``; ``bill --dry-run`` reports exactly what ``bill`` then
writes, and writes nothing; ``bill --now`` in the future is refused without ``--yes``; a bad
configuration is one line and exit status 2.

The server is the session's. The billing run here bills every subscription of its
database that is due, as ``tests/invoicing/test_clock.py`` does; the run in the future is only simulated (``--dry-run``), so no one else's periods are
billed ahead of time. The commands run in this process (Typer's runner: a new interpreter
per command costs seconds on a loaded machine), except where what a process prints is the
subject (the one-line errors, ``serve``'s banner)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from meterline.cli import app
from meterline.cli_start import key_in_file
from meterline.settings import Settings
from tests.conftest import BOOTSTRAP_KEY, Server, unique


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


def cli(url: str, *args: str) -> Ran:
    """``meterline ARGS`` in this process, on the database at ``url``."""
    result = CliRunner().invoke(
        app, list(args), env={"METERLINE_DATABASE_URL": url, "METERLINE_BOOTSTRAP_KEY": None}
    )
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Ran(result.exit_code, result.stdout, result.stderr)


def meterline(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``meterline ARGS`` as its own process."""
    env = {**os.environ, "METERLINE_DATABASE_URL": url}
    env.pop("METERLINE_BOOTSTRAP_KEY", None)
    return subprocess.run(
        [sys.executable, "-m", "meterline", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _z(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _seed(http: httpx.Client) -> dict[str, Any]:
    """A subscription whose first monthly period ended ten days ago: a $49 fee in advance
    and $0.50 a call in arrears, with 7 calls in that period."""
    now = datetime.now(UTC)
    customer = http.post("/v1/customers", json={"external_id": unique("c"), "name": "C"}).json()
    event_name = unique("call")
    feature = http.post(
        "/v1/features",
        json={
            "name": "Calls",
            "type": "metered",
            "lookup_key": unique("calls"),
            "meter": {
                "name": "calls",
                "event_name": event_name,
                "aggregation": {"type": "COUNT"},
                "reset_usage": "BILLING_PERIOD",
            },
        },
    ).json()
    plan = http.post("/v1/plans", json={"name": "Pro"}).json()
    common = {"entity_type": "PLAN", "entity_id": plan["id"], "price_unit_type": "FIAT"}
    for price in (
        {"type": "FIXED", "amount": "49", "invoice_cadence": "ADVANCE"},
        {
            "type": "USAGE",
            "amount": "0.5",
            "meter_id": feature["meter_id"],
            "invoice_cadence": "ARREAR",
        },
    ):
        created = http.post(
            "/v1/prices",
            json={
                **common,
                **price,
                "currency": "usd",
                "billing_model": "FLAT_FEE",
                "billing_period": "MONTHLY",
            },
        )
        assert created.status_code == 201, created.text
    start = now - timedelta(days=41)
    sub = http.post(
        "/v1/subscriptions",
        json={
            "customer_id": customer["id"],
            "plan_id": plan["id"],
            "currency": "usd",
            "billing_period": "MONTHLY",
            "start_date": _z(start),
        },
    )
    assert sub.status_code == 201, sub.text
    events = [
        {
            "event_name": event_name,
            "external_customer_id": customer["external_id"],
            "event_id": unique("e"),
            "timestamp": _z(start + timedelta(days=2, hours=i)),
        }
        for i in range(7)
    ]
    assert http.post("/v1/events/bulk", json={"events": events}).status_code == 202
    return {"subscription": sub.json(), "customer": customer}


def _invoices(http: httpx.Client, customer_id: str) -> list[dict[str, Any]]:
    listed = http.get("/v1/invoices", params={"customer_id": customer_id, "limit": 1000})
    assert listed.status_code == 200, listed.text
    return sorted(listed.json()["items"], key=lambda i: (i["period_start"] or "", i["id"]))


def _comparable(invoice: dict[str, Any]) -> tuple[Any, ...]:
    """What the dry run promises of an invoice: whose, which period, how much, which state."""

    def instant(text: str | None) -> datetime | None:
        return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None

    total = invoice["total"]
    return (
        invoice["customer_id"],
        instant(invoice["period_start"]),
        instant(invoice["period_end"]),
        invoice["currency"].lower(),
        str(float(total)),
        invoice.get("invoice_status", invoice.get("status")),
    )


def _one_line_refusal(result: subprocess.CompletedProcess[str] | Ran, says: str) -> None:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
    assert says in result.stderr, result.stderr


def _planned(dry_run: dict[str, Any], subscription_id: str) -> dict[str, Any]:
    [planned] = [s for s in dry_run["subscriptions"] if s["subscription_id"] == subscription_id]
    return planned


def test_key_file_keys_and_billing_dry_run_against_a_real_server(
    server: Server, tmp_path: Path
) -> None:
    if server.event_store == "clickhouse":
        pytest.skip("the CLI is a second process: chdb (the test ClickHouse) admits only one")
    url = server.database_url
    # What serve printed at start (conftest's server: its key comes from the environment).
    banner = server.log_path.read_text()
    assert f"Meterline 0.1.0 on {server.base_url}" in banner
    assert f"dashboard      {server.base_url}/ui" in banner
    assert f"{server.base_url}/docs" in banner
    assert ("SQLite" if url.startswith("sqlite") else "PostgreSQL") in banner
    assert "METERLINE_BOOTSTRAP_KEY (from the environment)" in banner
    assert BOOTSTRAP_KEY not in banner  # where the key is, never the key

    # serve --key-file (make run): a key minted once, then kept on every start.
    settings = Settings(database_url=url)
    key_file = tmp_path / "meterline.key"
    assert key_in_file(settings, key_file).endswith(f"new, in {key_file}: cat {key_file}")
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    key = key_file.read_text().strip()
    assert key_in_file(settings, key_file) == f"{key[:5]}***{key[-2:]}, in {key_file} (kept)"
    assert key_file.read_text().strip() == key
    with server.client(key) as http:
        seeded = _seed(http)
        customer_id = seeded["customer"]["id"]
        before = _invoices(http, customer_id)
        assert len(before) == 1  # the first period's fee, in advance

        listed = cli(url, "keys", "list", "--json")
        assert listed.returncode == 0, listed.stderr
        keys = {k["id"]: k for k in map(json.loads, listed.stdout.splitlines())}
        assert "bootstrap" in {k["name"] for k in keys.values()}
        assert key not in listed.stdout and BOOTSTRAP_KEY not in listed.stdout
        [ours] = [k for k in keys.values() if k["key"] == f"{key[:5]}***{key[-2:]}"]
        assert (ours["name"], ours["status"]) == ("key file meterline.key", "live")

        # The dry run reports the period the clock would close, and writes nothing.
        dry = cli(url, "bill", "--dry-run")
        assert dry.returncode == 0, dry.stderr
        would = json.loads(dry.stdout)
        assert would["dry_run"] is True
        planned = _planned(would, seeded["subscription"]["id"])
        assert planned["periods_closed"] == 1
        [invoice] = planned["invoices"]
        assert invoice["total"] == "52.5"  # 7 calls x $0.50 in arrears, $49 in advance
        assert float(would["totals"]["usd"]) >= 52.5
        assert "nothing was written" in dry.stderr
        assert _invoices(http, customer_id) == before

        # bill --now in the future: refused without --yes; nothing written either.
        future = _z(datetime.now(UTC) + timedelta(days=95))
        _one_line_refusal(cli(url, "bill", "--now", future), "--yes")
        assert _invoices(http, customer_id) == before

        # The real run writes what the dry run said.
        billed = cli(url, "bill")
        assert billed.returncode == 0, billed.stderr
        assert json.loads(billed.stdout)["periods_closed"] >= 1
        after = _invoices(http, customer_id)
        new = [i for i in after if i["id"] not in {b["id"] for b in before}]
        expected = [
            (
                customer_id,
                datetime.fromisoformat(i["period_start"]),
                datetime.fromisoformat(i["period_end"]),
                i["currency"].lower(),
                str(float(i["total"])),
                i["status"],
            )
            for i in planned["invoices"]
        ]
        assert [_comparable(i) for i in new] == expected

        # Months ahead, simulated: three more monthly periods, each with its invoice.
        ahead = json.loads(cli(url, "bill", "--now", future, "--dry-run").stdout)
        months = _planned(ahead, seeded["subscription"]["id"])
        assert months["periods_closed"] == 3 and len(months["invoices"]) == 3
        assert _invoices(http, customer_id) == after

        # Revoking the key takes effect on the running server at once.
        revoked = cli(url, "keys", "revoke", ours["id"])
        assert revoked.returncode == 0, revoked.stderr
        assert ours["id"] in revoked.stdout
        assert http.get("/v1/customers").status_code == 401
        again = cli(url, "keys", "revoke", ours["id"])
        assert again.returncode == 1 and "no live key" in again.stderr
        gone = cli(url, "keys", "list", "--revoked", "--json").stdout
        assert ours["id"] in gone

        # A key file whose key the database no longer accepts gets a new key.
        assert "not valid here: replaced" in key_in_file(settings, key_file)
        fresh = key_file.read_text().strip()
        assert fresh != key
        with server.client(fresh) as again_http:
            assert again_http.get("/v1/customers").status_code == 200


def test_bad_configuration_is_one_line_and_exit_status_2(tmp_path: Path) -> None:
    version = cli("sqlite:///unused.db", "--version")
    assert (version.returncode, version.stdout) == (0, "meterline 0.1.0\n")
    _one_line_refusal(cli("mysql://u:hunter2@db/x", "migrate"), "is not a SQLite")
    missing = cli(f"sqlite:///{tmp_path / 'no' / 'such' / 'dir.db'}", "migrate")
    _one_line_refusal(missing, "cannot open the database")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("METERLINE_MAX_BODY_BYTES", "lots")
        _one_line_refusal(cli("sqlite:///unused.db", "migrate"), "METERLINE_MAX_BODY_BYTES")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("METERLINE_POOL_SIZE", "1")
        env.setenv("METERLINE_POOL_MAX_OVERFLOW", "0")
        small_pool = cli("postgresql://u@127.0.0.1:1/x", "migrate")
        _one_line_refusal(small_pool, "METERLINE_POOL_SIZE + METERLINE_POOL_MAX_OVERFLOW")
    # As its own process, as an operator sees it: one line on stderr, nothing else.
    refused = meterline("postgresql://u:hunter2@127.0.0.1:1/x", "keys", "list")
    assert refused.stdout == ""
    _one_line_refusal(refused, "cannot open the database postgresql://u:***@127.0.0.1:1/x")
    assert "hunter2" not in refused.stderr
