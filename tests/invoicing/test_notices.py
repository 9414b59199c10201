"""The billing clock's notices: ``invoice.payment.overdue`` once per invoice still owed after
its due date, ``subscription.renewal.due`` once per period of an active subscription that
renews within the lead time — two clocks racing included, nothing for a paid, voided or
draft invoice nor for a cancelled subscription, and no body for an environment with no
endpoint that wants the type. The clock runs in-process on the server's database, at the
instant the test chooses; the bodies stored in the outbox parse with the SDK's models."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import event, select

import meterline.db.models  # noqa: F401 - every table mapped, as in the server
from meterline.db.engine import Database
from meterline.invoicing import clock, repository
from meterline.invoicing.models import Invoice
from meterline.settings import Settings
from meterline.subscriptions.models import Subscription
from meterline.webhooks.models import WebhookMessage
from tests.conftest import Server, Tenant, new_tenant, unique
from tests.invoicing.test_clock import plan_with_fee
from tests.webhooks.test_payloads import SDK_EVENTS, _unknown_keys

NOW = datetime.now(UTC).replace(microsecond=0)
GRACE = timedelta(hours=1)
LEAD = timedelta(days=10)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@pytest.fixture(scope="module")
def server_db(server: Server) -> Iterator[Database]:
    if server.event_store == "clickhouse":
        pytest.skip("an in-process clock cannot share the server's in-process chdb store")
    db = Database.connect(Settings(database_url=server.database_url))
    yield db
    db.dispose()


def _run(db: Database, now: datetime = NOW) -> clock.RunReport:
    return clock.run_once(db, now=now, grace=GRACE, renewal_lead=LEAD)


def _race(server: Server, now: datetime = NOW) -> None:
    """Two clocks, each with its own connections, at the same instant."""
    dbs = [Database.connect(Settings(database_url=server.database_url)) for _ in range(2)]
    errors: list[BaseException] = []

    def run(db: Database) -> None:
        try:
            _run(db, now)
        except BaseException as error:  # reported below, in the test's thread
            errors.append(error)

    threads = [threading.Thread(target=run, args=(db,)) for db in dbs]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        for db in dbs:
            db.dispose()
    assert not errors, errors


def _messages(db: Database, environment_id: str, event_type: str) -> list[dict[str, Any]]:
    with db.session(write=False) as session:
        rows = session.scalars(
            select(WebhookMessage)
            .where(
                WebhookMessage.environment_id == environment_id,
                WebhookMessage.event_type == event_type,
            )
            .order_by(WebhookMessage.created_at, WebhookMessage.id)
        ).all()
        return [dict(row.payload) for row in rows]


def _parsed(bodies: list[dict[str, Any]], event_type: str) -> list[Any]:
    model = SDK_EVENTS[event_type]
    for body in bodies:
        assert _unknown_keys(body, model) == [], body
    return [model.model_validate(body) for body in bodies]


def _endpoint(http: httpx.Client, event_type: str) -> None:
    # Nothing listens there: the test reads the outbox, not deliveries.
    url = "http://127.0.0.1:9/" + unique("notices")
    made = http.post("/v1/webhooks/endpoints", json={"url": url, "event_types": [event_type]})
    assert made.status_code == 201, made.text


def _customer(http: httpx.Client) -> str:
    made = http.post("/v1/customers", json={"external_id": unique("c"), "name": "C"})
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


def _invoice(http: httpx.Client, customer_id: str, due: datetime, *, finalize: bool = True) -> str:
    made = http.post(
        "/v1/invoices",
        json={
            "customer_id": customer_id,
            "currency": "usd",
            "amount_due": "12",
            "subtotal": "12",
            "total": "12",
            "due_date": _iso(due),
            "line_items": [{"display_name": "Work", "amount": "12", "quantity": "1"}],
        },
    )
    assert made.status_code == 201, made.text
    invoice_id = str(made.json()["id"])
    if finalize:
        done = http.post(f"/v1/invoices/{invoice_id}/finalize")
        assert done.status_code == 200, done.text
    return invoice_id


def test_an_invoice_owed_after_its_due_date_is_reported_overdue_once(
    server: Server, server_db: Database, tenant: Tenant, http: httpx.Client
) -> None:
    event_type = "invoice.payment.overdue"
    _endpoint(http, event_type)
    customer_id = _customer(http)
    late = _invoice(http, customer_id, NOW - timedelta(days=2))
    paid = _invoice(http, customer_id, NOW - timedelta(days=2))
    settled = http.put(f"/v1/invoices/{paid}/payment", json={"payment_status": "SUCCEEDED"})
    assert settled.status_code == 200, settled.text
    voided = _invoice(http, customer_id, NOW - timedelta(days=2))
    assert http.post(f"/v1/invoices/{voided}/void").status_code == 200
    _invoice(http, customer_id, NOW - timedelta(days=2), finalize=False)  # a draft
    not_yet = _invoice(http, customer_id, NOW + timedelta(days=2))
    # An environment with no endpoint for the type: reported (marked), no body built.
    quiet = new_tenant(server)
    with quiet.client() as other:
        unheard = _invoice(other, _customer(other), NOW - timedelta(days=1))

    _race(server)

    [notice] = _parsed(_messages(server_db, tenant.environment_id, event_type), event_type)
    assert notice.event_type == event_type
    assert (notice.invoice.id, notice.invoice.invoice_status, notice.invoice.payment_status) == (
        late,
        "FINALIZED",
        "PENDING",
    )
    assert notice.invoice.customer.id == customer_id
    assert notice.invoice.amount_remaining == "12" and len(notice.invoice.line_items) == 1
    assert _messages(server_db, quiet.environment_id, event_type) == []
    with server_db.session(write=False) as session:
        marked = dict(
            session.execute(
                select(Invoice.id, Invoice.overdue_notified_at).where(
                    Invoice.id.in_([late, paid, voided, not_yet, unheard])
                )
            ).all()
        )
    assert {i for i, at in marked.items() if at is not None} == {late, unheard}

    # A later run sends nothing more; a new due date, passed unpaid too, is reported again.
    # (Never a ``now`` ahead of the real time: the clock would bill other tests' periods.)
    _run(server_db)
    assert len(_messages(server_db, tenant.environment_id, event_type)) == 1
    moved = http.put(f"/v1/invoices/{late}", json={"due_date": _iso(NOW - timedelta(days=1))})
    assert moved.status_code == 200, moved.text
    _run(server_db)
    bodies = _messages(server_db, tenant.environment_id, event_type)
    assert [b["invoice"]["id"] for b in bodies] == [late, late]


def _subscribe(http: httpx.Client, plan_id: str, start: datetime) -> str:
    made = http.post(
        "/v1/subscriptions",
        json={
            "customer_id": _customer(http),
            "plan_id": plan_id,
            "currency": "usd",
            "billing_period": "MONTHLY",
            "start_date": _iso(start),
        },
    )
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


def test_a_renewal_within_the_lead_time_is_noticed_once_per_period(
    server: Server, server_db: Database, tenant: Tenant, http: httpx.Client
) -> None:
    event_type = "subscription.renewal.due"
    _endpoint(http, event_type)
    plan_id, _meter = plan_with_fee(http, unique("call"))
    # Its first monthly period ended 24 to 27 days ago; the second ends in 4 to 7 days.
    renewing = _subscribe(http, plan_id, NOW - timedelta(days=55))
    # Periods that began 25 days ago: they end within the lead time of NOW, not of before.
    ending = _subscribe(http, plan_id, NOW - timedelta(days=25))
    cancel = {"cancellation_type": "end_of_period"}
    assert http.post(f"/v1/subscriptions/{ending}/cancel", json=cancel).status_code == 200
    cancelled = _subscribe(http, plan_id, NOW - timedelta(days=25))
    cancel = {"cancellation_type": "immediate"}
    assert http.post(f"/v1/subscriptions/{cancelled}/cancel", json=cancel).status_code == 200
    far = _subscribe(http, plan_id, NOW - timedelta(days=2))  # ends in about four weeks
    with server_db.session(write=False) as session:
        first_end = session.get(Subscription, renewing).current_period_end

    # Five days before its first period ended: two clocks racing notice it once.
    _race(server, first_end - timedelta(days=5))
    [first] = _parsed(_messages(server_db, tenant.environment_id, event_type), event_type)
    assert first.event_type == event_type
    assert (first.subscription.id, first.subscription.subscription_status) == (renewing, "active")
    assert first.customer is not None and first.customer.id == first.subscription.customer_id
    assert first.subscription.current_period_end == first_end
    _run(server_db, first_end - timedelta(days=4))
    assert len(_messages(server_db, tenant.environment_id, event_type)) == 1

    # Now: the run closes that period, and the next one ends within the lead time.
    _race(server)
    bodies = _messages(server_db, tenant.environment_id, event_type)
    _, second = _parsed(bodies, event_type)
    assert second.subscription.id == renewing
    assert second.subscription.current_period_start == first_end
    second_end = second.subscription.current_period_end
    assert second_end is not None and NOW < second_end <= NOW + LEAD
    with server_db.session(write=False) as session:
        marked = dict(
            session.execute(
                select(Subscription.id, Subscription.renewal_notified_period_end).where(
                    Subscription.id.in_([renewing, ending, cancelled, far])
                )
            ).all()
        )
    # The one cancelled at its period end was looked at, with no message: no renewal.
    assert {s for s, at in marked.items() if at is not None} == {renewing, ending}
    _run(server_db)
    assert len(_messages(server_db, tenant.environment_id, event_type)) == 2


def test_the_notice_scans_read_through_their_indexes(server_db: Database) -> None:
    """Each run's scans are index range scans, never a walk over every invoice or
    subscription. SQLite's plan is deterministic: there it is checked; SQLite uses a partial
    index only for a query repeating its terms, which is what can break unnoticed."""
    if not server_db.is_sqlite:
        pytest.skip("PostgreSQL's planner chooses by table statistics")
    seen: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        seen.append((statement, parameters))

    engine = server_db.read_engine
    event.listen(engine, "before_cursor_execute", capture)
    try:
        with server_db.session(write=False) as session:
            repository.overdue_invoice_ids(session, NOW, 100, excluding=["inv_x"])
            repository.renewal_due_ids(session, NOW, LEAD, 100, excluding=["subs_x"])
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    scans = [(sql, params) for sql, params in seen if sql.lstrip().upper().startswith("SELECT")]
    assert len(scans) == 2, seen
    with engine.connect() as conn:
        plans = [
            " ".join(row[-1] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params))
            for sql, params in scans
        ]
    assert "INDEX ix_invoices_overdue_scan" in plans[0], plans[0]
    assert "INDEX ix_subscriptions_status_period_end" in plans[1], plans[1]
