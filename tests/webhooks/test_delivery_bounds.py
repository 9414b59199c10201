"""Bounds of one delivery attempt: it ends at the time-out whatever the endpoint does (here:
trickling its answer a byte at a time, which a per-read socket time-out never catches), and
an endpoint that answers, but slowly, counts as failing until it is disabled."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import Server, new_tenant
from tests.webhooks.conftest import SQL_BACKENDS, WEBHOOK_ENV, Receiver, webhook_server
from tests.webhooks.test_webhooks import endpoint, one_off

# Attempts end after 3 s; over 0.5 s is slow; three failures in a row disable an endpoint.
BOUNDS_ENV = {
    **WEBHOOK_ENV,
    "METERLINE_WEBHOOK_TIMEOUT_SECONDS": "3",
    "METERLINE_WEBHOOK_SLOW_SECONDS": "0.5",
    "METERLINE_WEBHOOK_DISABLE_AFTER_FAILURES": "3",
}


@pytest.fixture(scope="module", params=SQL_BACKENDS)
def bounds_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    with webhook_server(request.param, tmp_path_factory.mktemp("bounds"), BOUNDS_ENV) as s:
        yield s


@pytest.fixture
def api(bounds_server: Server) -> Iterator[httpx.Client]:
    with new_tenant(bounds_server).client() as client:
        yield client


def _state(api: httpx.Client, hook_id: str) -> dict[str, Any]:
    return api.get(f"/v1/webhooks/endpoints/{hook_id}").json()  # type: ignore[no-any-return]


def test_an_answer_trickled_past_the_time_out_fails_the_attempt_and_is_retried(
    api: httpx.Client, receiver: Receiver
) -> None:
    hook, path = endpoint(api, receiver, "invoice.update.voided")
    receiver.drips[path] = 0.3  # a byte every 0.3 s: the whole answer would take ~12 s
    invoice = one_off(api, "4")
    assert api.post(f"/v1/invoices/{invoice['id']}/void").status_code == 200

    tries = receiver.wait_for(path, 2, timeout=15)
    assert tries[1].at - tries[0].at < 8  # the first attempt was cut off, not waited out
    deadline = time.monotonic() + 15
    while True:
        [delivery] = api.get(f"/v1/webhooks/endpoints/{hook['id']}/deliveries").json()["items"]
        if delivery["attempt_log"] or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    first = delivery["attempt_log"][0]
    assert first["status_code"] is None
    assert first["error"] == "timed out after 3 s"
    assert 2500 <= first["duration_ms"] < 6000
    assert delivery["status"] in ("pending", "failed")  # retried, never "succeeded"


def test_an_endpoint_that_answers_slowly_is_treated_like_a_failing_one(
    api: httpx.Client, receiver: Receiver
) -> None:
    hook, path = endpoint(api, receiver, "invoice.update.voided")
    receiver.delays[path] = 1.0  # 2xx after 1 s: slow (over 0.5 s), within the time-out
    for total in ("1", "2", "3", "4"):
        assert api.post(f"/v1/invoices/{one_off(api, total)['id']}/void").status_code == 200

    deadline = time.monotonic() + 20
    while _state(api, hook["id"])["enabled"] and time.monotonic() < deadline:
        time.sleep(0.1)
    disabled = _state(api, hook["id"])
    assert disabled["enabled"] is False, disabled
    assert disabled["consecutive_failures"] == 3
    assert disabled["disabled_reason"] == "disabled after 3 consecutive failed deliveries"
    time.sleep(0.5)
    got = receiver.at(path)
    assert len(got) == 3  # the fourth waits for the endpoint to be enabled
    # One endpoint's deliveries go one after another: each once the previous is answered.
    assert all(b.at - a.at >= 0.9 for a, b in itertools.pairwise(got))
    # The log may trail the receiver by the recording of the last answer.
    deadline = time.monotonic() + 10
    while True:
        items = api.get(f"/v1/webhooks/endpoints/{hook['id']}/deliveries").json()["items"]
        done = [d for d in items if d["status"] == "succeeded"]
        if len(done) >= 3 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    # Each slow answer did deliver its message (not sent again), and says it was slow.
    assert len(done) == 3 and all(d["attempts"] == 1 for d in done)
    assert all(d["attempt_log"][0]["error"].startswith("slow: answered after") for d in done)
    assert [d["status"] for d in items].count("pending") == 1
