"""The report body is read by msgspec on the hot path, and by pydantic otherwise: both must
answer exactly what FastAPI answers with the pydantic model, for valid and invalid bodies
alike (the same value, to the digit; the same 400/422 problem, to the location)."""

from __future__ import annotations

import warnings
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from meterline.api.errors import install_error_handlers
from meterline.api.kaiten.usage import UsageReportIn, parse_report

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


def _echo(body: UsageReportIn) -> dict[str, Any]:
    value = body.value.value
    return {
        "value": [type(value).__name__, str(value)],
        "event_count": body.value.event_count,
        "behavior": body.behavior,
        "metadata": body.metadata,
        "transactionId": body.transactionId,
    }


def _app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/api/fastapi")
    async def by_fastapi(body: UsageReportIn) -> Response:
        return JSONResponse(_echo(body))

    async def by_parse_report(request: Request) -> Response:
        body = parse_report(request.headers.get("content-type"), await request.body())
        return JSONResponse(_echo(body))

    app.add_route("/api/ours", by_parse_report, methods=["POST"])
    return app


JSON = "application/json"
CASES: list[tuple[str | None, bytes]] = [
    (JSON, b'{"value":{"type":"number","value":1},"behavior":"append"}'),
    (JSON, b'{"value":{"type":"number","value":1.0}}'),
    (JSON, b'{"value":{"type":"number","value":1e2}}'),
    (JSON, b'{"value":{"type":"number","value":0.1}}'),
    (JSON, b'{"value":{"type":"number","value":-0.0}}'),
    (JSON, b'{"value":{"type":"number","value":0.12345678901234567890}}'),
    (JSON, b'{"value":{"type":"number","value":123456789012345678901234567890}}'),
    (JSON, b'{"value":{"type":"number","value":"7.25"}}'),
    (JSON, b'{"value":{"type":"number","value":2,"event_count":3},"behavior":"set"}'),
    (JSON, b'{"value":{"type":"number","value":2,"event_count":3.0}}'),
    (JSON, b'{"value":{"type":"number","value":1},"metadata":{"k":[1,2.5,null,"x"]}}'),
    (JSON, b'{"value":{"type":"number","value":1},"metadata":null,"transactionId":"a.b:c-1"}'),
    ("application/merge-patch+json", b'{"value":{"type":"number","value":1}}'),
    ("application/json; charset=utf-8", b'{"value":{"type":"number","value":1}}'),
    # Refusals.
    (JSON, b'{"value":{"type":"number","value":1},"behavior":"replace"}'),
    (JSON, b'{"value":{"type":"number","value":1},"extra":1}'),
    (JSON, b'{"value":{"type":"number","value":1,"extra":1}}'),
    (JSON, b'{"value":{"type":"boolean","value":true}}'),
    (JSON, b'{"value":{"type":"number","value":true}}'),
    (JSON, b'{"value":{"type":"number","value":NaN}}'),
    (JSON, b'{"value":{"type":"number","value":1e400}}'),
    (JSON, b'{"value":{"type":"number","value":"many"}}'),
    (JSON, b'{"value":{"type":"number"}}'),
    (JSON, b'{"value":{"type":"number","value":1},"transactionId":"has space"}'),
    (JSON, b'{"value":{"type":"number","value":1},"transactionId":"trailing\\n"}'),
    (JSON, b'{"value":{"type":"number","value":1},"transactionId":""}'),
    (JSON, b'{"value":{"type":"number","value":1},"metadata":[1]}'),
    (JSON, b'{"value":{"type":"number","value":1},"behavior":null}'),
    (JSON, b'{"value": '),
    (JSON, b'{"value":{"type":"number","value":1},"metadata":{"k":"\xff"}}'),
    (JSON, b"[]"),
    (JSON, b"null"),
    (JSON, b""),
    (None, b'{"value":{"type":"number","value":1}}'),
    ("text/plain", b'{"value":{"type":"number","value":1}}'),
]


@pytest.mark.parametrize(("content_type", "body"), CASES)
def test_the_same_answer_as_fastapi(content_type: str | None, body: bytes) -> None:
    headers = {"content-type": content_type} if content_type else {}
    with TestClient(_app()) as client:
        expected = client.post("/api/fastapi", content=body, headers=headers)
        got = client.post("/api/ours", content=body, headers=headers)
    assert got.status_code == expected.status_code, expected.text
    assert got.headers["content-type"] == expected.headers["content-type"]
    ours, theirs = got.json(), expected.json()
    if isinstance(theirs, dict) and "instance" in theirs:
        assert (ours.pop("instance"), theirs.pop("instance")) == ("/api/ours", "/api/fastapi")
    assert ours == theirs
