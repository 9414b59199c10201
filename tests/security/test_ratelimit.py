"""Rate limiting per key: a token bucket per key id, 429 with ``Retry-After`` in each
dialect's error shape, other keys unaffected; off by default."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from meterline.api.ratelimit import RateLimiter, limiter_from_settings
from meterline.kernel.errors import TooManyRequests
from tests.conftest import Server, new_tenant, start_server, stop_server
from tests.security.conftest import mint

BURST = 10


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_bucket_refills_at_the_rate_and_caps_at_the_burst() -> None:
    clock = Clock()
    limiter = RateLimiter(rate=2, burst=3, clock=clock)
    for _ in range(3):
        limiter.acquire("k1")
    with pytest.raises(TooManyRequests) as refused:
        limiter.acquire("k1")
    assert refused.value.retry_after == 1
    limiter.acquire("k2")  # another key has its own bucket
    clock.now += 0.5  # one token back at 2/s
    limiter.acquire("k1")
    with pytest.raises(TooManyRequests):
        limiter.acquire("k1")
    clock.now += 3600  # a long pause refills to the burst, not beyond
    for _ in range(3):
        limiter.acquire("k1")
    with pytest.raises(TooManyRequests):
        limiter.acquire("k1")


def test_retry_after_is_the_wait_for_one_token() -> None:
    clock = Clock()
    limiter = RateLimiter(rate=0.1, burst=1, clock=clock)
    limiter.acquire("k")
    with pytest.raises(TooManyRequests) as refused:
        limiter.acquire("k")
    assert refused.value.retry_after == 10
    clock.now += 4
    with pytest.raises(TooManyRequests) as refused:
        limiter.acquire("k")
    assert refused.value.retry_after == 6


def test_off_by_default_and_burst_defaults_to_a_second() -> None:
    assert limiter_from_settings(0, 0) is None
    limiter = limiter_from_settings(50, 0)
    assert limiter is not None and limiter.burst == 50


@pytest.fixture(scope="module")
def limited_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("ratelimit")
    # One request per 100 s after a burst of 10: deterministic on any machine (Retry-After
    # is 100 s less the refill since the burst began, so a slow machine may see 99).
    server = start_server(
        f"sqlite:///{root / 'rl.db'}",
        Path(root),
        {"METERLINE_RATE_LIMIT_PER_SECOND": "0.01", "METERLINE_RATE_LIMIT_BURST": str(BURST)},
    )
    yield server
    stop_server(server)


def _drain(url: str, headers: dict[str, str], **kwargs: object) -> httpx.Response:
    for _ in range(BURST):
        assert httpx.request(url=url, headers=headers, **kwargs).status_code < 429  # type: ignore[arg-type]
    return httpx.request(url=url, headers=headers, **kwargs)  # type: ignore[arg-type]


def test_429_in_each_dialect_with_retry_after(limited_server: Server) -> None:
    tenant = new_tenant(limited_server)  # the bootstrap key spends 2 tokens here
    base = limited_server.base_url

    flexprice = _drain(base + "/v1/customers", {"x-api-key": mint(tenant)[0]}, method="GET")
    assert flexprice.status_code == 429
    assert 90 <= int(flexprice.headers["Retry-After"]) <= 100
    assert flexprice.json() == {
        "code": "too_many_requests",
        "message": "Rate limit of 0.01 requests per second exceeded for this key",
        "http_status_code": 429,
    }

    ingest = _drain(
        base + "/v1/events",
        {"x-api-key": mint(tenant)[0]},
        method="POST",
        json={"event_name": "e", "external_customer_id": "c"},
    )
    assert ingest.status_code == 429 and 90 <= int(ingest.headers["Retry-After"]) <= 100

    kaiten = _drain(
        base + "/api/customers", {"Authorization": f"Bearer {mint(tenant)[0]}"}, method="GET"
    )
    assert kaiten.status_code == 429
    assert 90 <= int(kaiten.headers["Retry-After"]) <= 100
    assert kaiten.headers["content-type"] == "application/problem+json"
    problem = kaiten.json()
    assert problem["status"] == 429 and problem["title"] == "Too Many Requests"

    customer_key = mint(tenant, customer_external_id="acme")[0]
    report = _drain(base + "/v1/usage", {"Authorization": f"Bearer {customer_key}"}, method="GET")
    assert report.status_code == 429
    assert 90 <= int(report.headers["Retry-After"]) <= 100
    assert report.json()["error"]["code"] == "too_many_requests"


def test_one_key_flooding_does_not_limit_another(limited_server: Server) -> None:
    tenant = new_tenant(limited_server)
    flood = {"x-api-key": mint(tenant)[0]}
    calm = {"x-api-key": mint(tenant)[0]}
    base = limited_server.base_url
    assert _drain(base + "/v1/customers", flood, method="GET").status_code == 429
    assert httpx.get(base + "/v1/customers", headers=calm).status_code == 200
    # A request without a valid key is a 401 and spends no one's tokens.
    assert httpx.get(base + "/v1/customers", headers={"x-api-key": "sk_nope"}).status_code == 401
