"""Client mistakes are answered in the dialect's error shape, never with a 500."""

from __future__ import annotations

import httpx


def test_a_model_built_from_query_parameters_rejects_with_400(http: httpx.Client) -> None:
    # Found by schemathesis: list filters past their bound were a pydantic error raised
    # inside the route (not by FastAPI), which surfaced as a 500.
    statuses = [("subscription_status", f"s{i}") for i in range(30)]
    response = http.get("/v1/subscriptions", params=statuses)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "validation_error"
    assert "subscription_status" in body["details"]
