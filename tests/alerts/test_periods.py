"""A spend alert fires once in each billing period, and once when evaluations race: the
evaluator run in-process on the server's database at chosen instants (the server's own
alerts job runs meanwhile, so it is one more racer). What is in alarm at an instant is the
state of that instant's period only."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from flexprice import Flexprice
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

import meterline.db.models  # noqa: F401 - every table mapped, as in the server
from meterline.accounts.principal import Principal
from meterline.alerts import alarms, evaluate, thresholds
from meterline.alerts.models import AlertLog, AlertSetting
from meterline.db.engine import Database
from meterline.kernel.calendar import add_months
from meterline.settings import Settings
from meterline.webhooks.models import WebhookMessage
from tests.api.flexprice.builders import plan_price, tokens_feature
from tests.conftest import Server, unique
from tests.security.conftest import skip_clickhouse


@pytest.fixture(scope="module")
def server_db(server: Server) -> Iterator[Database]:
    skip_clickhouse(server)  # the evaluator reads usage through the SQL store here
    db = Database.connect(Settings(database_url=server.database_url))
    yield db
    db.dispose()


def _evaluate(db: Database, setting_id: str, at: datetime) -> list[evaluate.Fired]:
    try:
        with db.session(write=True) as session:
            setting = session.get(AlertSetting, setting_id)
            assert setting is not None
            return evaluate.evaluate_setting(session, setting, at)
    except (evaluate.LostRace, IntegrityError):
        return []  # another evaluation sent it


def test_a_spend_alert_fires_once_in_each_period_and_once_under_racing_evaluations(
    fp: Flexprice, server_db: Database
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    start = add_months(now, -1) - timedelta(days=2)  # the current period began 2 days ago
    customer = fp.customers.create_customer(external_id=unique("cust"), name="Period Co")
    feature = tokens_feature(fp, event="spend")
    plan = fp.plans.create_plan(name="Metered", lookup_key=unique("plan"))
    plan_price(
        fp,
        plan.id,
        type_="USAGE",
        meter_id=feature.meter_id,
        billing_model="FLAT_FEE",
        amount="0.01",
        invoice_cadence="ARREAR",
    )
    sub = fp.subscriptions.create_subscription(
        customer_id=customer.id,
        plan_id=plan.id,
        currency="usd",
        billing_period="MONTHLY",
        start_date=start,
    )
    setting = fp.alert_settings.create_alert_settings(
        entity_type="subscription",
        entity_id=sub.id,
        config={
            "alert_threshold_type": "absolute",
            "critical": {"condition": "above", "threshold": "1"},
        },
    )
    # 200 tokens (2.00) in the first period, 300 (3.00) in the current one: both over 1.
    fp.events.ingest_events_bulk(
        events=[
            {
                "event_name": feature.meter.event_name,
                "external_customer_id": customer.external_id,
                "event_id": unique("e"),
                "timestamp": at.isoformat(),
                "properties": {"tokens": tokens},
            }
            for at, tokens in (
                (start + timedelta(days=1), "200"),
                (now - timedelta(hours=1), "300"),
            )
        ]
    )
    in_first = start + timedelta(days=5)
    [fired] = _evaluate(server_db, setting.id, in_first)
    assert (fired.old, fired.new, fired.event_type) == (
        "ok",
        "in_alarm",
        "subscription.spend.threshold_reached",
    )
    assert _evaluate(server_db, setting.id, in_first + timedelta(days=1)) == []  # still over

    # The current period: two evaluations at once (and the server's job): one change.
    results: list[list[evaluate.Fired]] = []
    racers = [
        threading.Thread(target=lambda: results.append(_evaluate(server_db, setting.id, now)))
        for _ in range(2)
    ]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join()
    assert sum(len(r) for r in results) <= 1

    with server_db.session(write=False) as session:
        logs = session.scalars(
            select(AlertLog).where(AlertLog.setting_id == setting.id).order_by(AlertLog.created_at)
        ).all()
        assert [(row.alert_status, row.value) for row in logs] == [
            ("in_alarm", Decimal("2")),
            ("in_alarm", Decimal("3")),
        ]
        assert [row.period_start for row in logs] == [start, add_months(start, 1)]
        messages = session.scalars(
            select(WebhookMessage).where(
                WebhookMessage.environment_id == setting.environment_id,
                WebhookMessage.event_type == "subscription.spend.threshold_reached",
            )
        ).all()
        spends = sorted(m.payload["current_spend"] for m in messages)
        assert spends == ["2", "3"]

        # In alarm now: only the state of the period holding the instant asked about.
        stored = session.get(AlertSetting, setting.id)
        assert stored is not None
        principal = Principal(organization_id="", environment_id=stored.environment_id, key_id="")
        for at, expected in (
            (in_first, [Decimal("2")]),
            (now, [Decimal("3")]),
            (add_months(now, 2), []),  # a later period, not evaluated yet: starts at ok
        ):
            found = alarms.in_alarm(session, principal, 10, at)
            assert [(a.setting_id, a.state, a.value) for a in found.items] == [
                (setting.id, "in_alarm", value) for value in expected
            ]
            assert found.total == len(expected) and found.scanned_all


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("ok", "ok", None),
        ("ok", "info", thresholds.CROSSED),
        ("info", "in_alarm", thresholds.CROSSED),
        ("in_alarm", "warning", thresholds.SOFTENED),
        ("warning", "ok", thresholds.RECOVERED),
        ("in_alarm", "in_alarm", None),
    ],
)
def test_a_change_of_state_is_a_crossing_a_recovery_or_a_softening(
    old: str, new: str, expected: str | None
) -> None:
    assert thresholds.change(old, new) == expected


def test_the_threshold_named_is_the_levels_behind_the_state() -> None:
    config = thresholds.Config(
        enabled=True,
        threshold_type="absolute",
        levels={
            "critical": thresholds.Level("above", Decimal("100")),
            "info": thresholds.Level("above", Decimal("10")),
        },
    )
    assert [thresholds.state(config, Decimal(v)) for v in ("10", "10.01", "100.5")] == [
        "ok",
        "info",
        "in_alarm",
    ]
    assert thresholds.crossed_threshold(config, "in_alarm") == Decimal("100")
    assert thresholds.crossed_threshold(config, "info") == Decimal("10")
    assert thresholds.crossed_threshold(config, "ok") == Decimal("10")  # the last recovered
    assert thresholds.crossed_threshold(config, "warning") is None
