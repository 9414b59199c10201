"""The rebuild of a meter over real HTTP, on every back end: the meter's body shows it (the
Meterline extension ``rebuild``), usage is right while it is pending, and the server's job
takes it to ``done`` on its own."""

from __future__ import annotations

import time
from typing import Any

import httpx

from tests.api.flexprice.test_usage import ev, meter, send, value
from tests.conftest import unique

STATES = {"pending", "running", "done"}


def _rebuild(http: httpx.Client, meter_id: str) -> dict[str, Any]:
    response = http.get(f"/v1/meters/{meter_id}")
    assert response.status_code == 200, response.text
    return dict(response.json()["rebuild"])


def _until_done(http: httpx.Client, meter_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        rebuild = _rebuild(http, meter_id)
        if rebuild["status"] == "done" or time.monotonic() > deadline:
            return rebuild
        time.sleep(0.05)


def test_a_meters_rebuild_goes_from_pending_to_done_and_reads_stay_right(
    http: httpx.Client,
) -> None:
    name = unique("rebuilt")
    send(
        http,
        [ev(name, "c", 1, f"{name}-{i}", n="2", region="eu" if i % 2 else "us") for i in range(6)],
    )
    created = http.post(
        "/v1/meters",
        json={"name": name, "event_name": name, "aggregation": {"type": "SUM", "field": "n"}},
    )
    assert created.status_code == 201, created.text
    meter_id = created.json()["id"]
    assert created.json()["rebuild"]["status"] in STATES
    assert "requested_at" in created.json()["rebuild"]
    # Right at once, whether or not the job has run yet.
    assert value(http, meter_id, external_customer_id="c") == 12
    done = _until_done(http, meter_id)
    assert done["status"] == "done", done
    assert {"requested_at", "finished_at"} <= done.keys()
    assert value(http, meter_id, external_customer_id="c") == 12

    changed = http.put(
        f"/v1/meters/{meter_id}", json={"filters": [{"key": "region", "values": ["eu"]}]}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["rebuild"]["status"] in STATES
    assert value(http, meter_id, external_customer_id="c") == 6
    assert _until_done(http, meter_id)["status"] == "done"
    assert value(http, meter_id, external_customer_id="c") == 6


def test_a_listed_meter_has_no_rebuild_field_and_the_job_is_healthy(http: httpx.Client) -> None:
    meter_id = meter(http, unique("listed"), {"type": "COUNT"})
    listed = http.get("/v1/meters", params={"limit": 100}).json()["items"]
    assert any(m["id"] == meter_id for m in listed)
    assert all("rebuild" not in m for m in listed)
    assert http.get("/health").json()["meter_rebuilds"] == "ok"
