"""``meterline demo`` shows the product: overages on tiered prices, paid, due, overdue,
voided and draft invoices, prepaid wallets (one with its low-balance alert in alarm) and an
instance reporting usage. Run as a user runs it, on a fresh SQLite database, and read back
from that database."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from decimal import Decimal
from pathlib import Path


def test_demo_seeds_every_kind_of_invoice_wallets_and_instance_usage(tmp_path: Path) -> None:
    database = tmp_path / "demo.db"
    env = {**os.environ, "METERLINE_DATABASE_URL": f"sqlite:///{database}"}
    run = subprocess.run(
        [sys.executable, "-m", "meterline", "demo", "--customers", "20"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert "Invoices: " in run.stdout
    with sqlite3.connect(database) as db:
        [env_id] = db.execute(
            "SELECT environment_id FROM customers WHERE external_id = 'demo-0001'"
        ).fetchone()
        kinds = dict(
            db.execute(
                "SELECT CASE WHEN invoice_status = 'FINALIZED' AND payment_status = 'PENDING'"
                " AND due_date < datetime('now') THEN 'overdue'"
                " ELSE invoice_status || '/' || payment_status END, count(*)"
                " FROM invoices WHERE environment_id = ? GROUP BY 1",
                (env_id,),
            ).fetchall()
        )
        assert {"DRAFT/PENDING", "FINALIZED/SUCCEEDED", "FINALIZED/PENDING", "overdue"} <= set(
            kinds
        ), kinds
        assert any(k.startswith("VOIDED") for k in kinds), kinds
        # Most usage lines carry an overage: the included calls are passed.
        usage = [
            Decimal(amount)
            for (amount,) in db.execute(
                "SELECT l.amount FROM invoice_line_items l JOIN invoices i ON i.id = l.invoice_id"
                " WHERE i.environment_id = ? AND l.price_type = 'USAGE'"
                " AND l.display_name = 'API calls'",
                (env_id,),
            )
        ]
        assert usage and sum(1 for a in usage if a > 0) > len(usage) // 2
        # Top customers differ: invoiced totals are not all one fee.
        totals = {
            Decimal(t)
            for (t,) in db.execute(
                "SELECT total FROM invoices WHERE environment_id = ? AND total != '0'", (env_id,)
            )
        }
        assert len(totals) > 5
        [(wallets,)] = db.execute(
            "SELECT count(*) FROM wallets WHERE environment_id = ?", (env_id,)
        ).fetchall()
        assert wallets == 2
        # One wallet's low-balance alert is in alarm already: the overview's panel shows it.
        alarms = db.execute(
            "SELECT s.entity_type, st.state FROM alert_states st"
            " JOIN alert_settings s ON s.id = st.setting_id WHERE st.environment_id = ?",
            (env_id,),
        ).fetchall()
        assert alarms == [("wallet", "in_alarm")]
        [(reports,)] = db.execute(
            "SELECT count(*) FROM usage_reports WHERE environment_id = ? AND status = 'ACCEPTED'",
            (env_id,),
        ).fetchall()
        assert reports == 3
