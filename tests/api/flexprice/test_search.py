"""``contains`` searches match their text literally: ``%``, ``_`` and ``\\`` are no
wildcards, on every /v1 search (one ``db.search.contains`` serves them all)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

NAMES = ("a%b", "a_b", "axb", "a\\b")


def _filter(operator: str, text: str) -> dict[str, Any]:
    return {"field": "name", "operator": operator, "data_type": "STRING", "value": {"string": text}}


def _names(response: httpx.Response, key: str = "items") -> set[str]:
    assert response.status_code == 200, response.text
    return {item["name"] for item in response.json()[key]}


@pytest.mark.parametrize(
    ("text", "found"),
    [("%", {"a%b"}), ("_", {"a_b"}), ("\\", {"a\\b"}), ("x", {"axb"}), ("a", set(NAMES))],
)
def test_contains_matches_percent_underscore_and_backslash_literally(
    http: httpx.Client, text: str, found: set[str]
) -> None:
    for index, name in enumerate(NAMES):
        response = http.post("/v1/customers", json={"external_id": f"c{index}", "name": name})
        assert response.status_code == 201, response.text
    contains = http.post("/v1/customers/search", json={"filters": [_filter("contains", text)]})
    assert _names(contains) == found
    excluded = http.post("/v1/customers/search", json={"filters": [_filter("not_contains", text)]})
    assert _names(excluded) == set(NAMES) - found


def test_feature_name_contains_is_literal(http: httpx.Client) -> None:
    for index, name in enumerate(NAMES):
        body = {"name": name, "type": "boolean", "lookup_key": f"flag-{index}"}
        response = http.post("/v1/features", json=body)
        assert response.status_code == 201, response.text
    for text, found in (("%", {"a%b"}), ("_", {"a_b"})):
        response = http.post("/v1/features/search", json={"name_contains": text})
        assert _names(response) == found
