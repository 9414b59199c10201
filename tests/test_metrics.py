"""GET /metrics (Prometheus text), the request id, and the JSON log format."""

from __future__ import annotations

import json
import logging

import httpx
from prometheus_client.parser import text_string_to_metric_families

from meterline.observability import JsonFormatter, request_id_var
from tests.conftest import unique


def scrape(client: httpx.Client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict, name: str, **labels: str) -> float:  # type: ignore[type-arg]
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_ingest_counters_and_latency_by_route_template(http: httpx.Client) -> None:
    before = scrape(http)
    customer = unique("m")
    events = [
        {"event_name": "api_call", "external_customer_id": customer, "event_id": unique("e")}
        for _ in range(7)
    ]
    first = http.post("/v1/events/bulk", json={"events": events + events[:3]})
    assert first.status_code == 202
    again = http.post("/v1/events/bulk", json={"events": events[:2]})
    assert again.status_code == 202
    for _ in range(3):
        assert http.get(f"/v1/customers/{unique('missing')}").status_code == 404
    after = scrape(http)

    assert (
        value(after, "meterline_events_ingested_total")
        - value(before, "meterline_events_ingested_total")
        == 7
    )
    assert (
        value(after, "meterline_events_duplicate_total")
        - value(before, "meterline_events_duplicate_total")
        == 5
    )
    bulk = {"method": "POST", "route": "/v1/events/bulk", "status": "202"}
    assert (
        value(after, "meterline_http_request_duration_seconds_count", **bulk)
        - value(before, "meterline_http_request_duration_seconds_count", **bulk)
        == 2
    )
    detail = {"method": "GET", "route": "/v1/customers/{customer_id}", "status": "404"}
    assert (
        value(after, "meterline_http_request_duration_seconds_count", **detail)
        - value(before, "meterline_http_request_duration_seconds_count", **detail)
        == 3
    )
    # Raw paths never become labels: the label set stays bounded.
    assert not any("missing" in dict(labels).get("route", "") for _, labels in after)
    assert ("meterline_ingest_queue_depth", ()) in after
    assert ("meterline_webhook_outbox_pending", ()) in after


def test_request_id_is_echoed_or_made(http: httpx.Client) -> None:
    given = http.get("/health", headers={"X-Request-ID": "trace-42.a"})
    assert given.headers["x-request-id"] == "trace-42.a"
    made = http.get("/health").headers["x-request-id"]
    other = http.get("/health").headers["x-request-id"]
    assert len(made) == 32 and made != other
    # A header that could forge log lines is replaced, not echoed.
    odd = http.get("/health", headers={"X-Request-ID": 'a b"c'}).headers["x-request-id"]
    assert odd != 'a b"c' and len(odd) == 32


def test_json_log_lines_carry_the_request_id_and_never_a_key() -> None:
    token = request_id_var.set("req-7")
    try:
        record = logging.LogRecord(
            "meterline.test",
            logging.WARNING,
            __file__,
            1,
            "rejected key %s for %s",
            ("sk_live_abcdefghijklmnopqrstuvwxyz", "cust-1"),
            None,
        )
        record.route = "/v1/customers/{customer_id}"
        line = json.loads(JsonFormatter().format(record))
    finally:
        request_id_var.reset(token)
    assert line["request_id"] == "req-7"
    assert line["level"] == "warning" and line["logger"] == "meterline.test"
    assert line["message"] == "rejected key sk_*** for cust-1"
    assert line["route"] == "/v1/customers/{customer_id}"
