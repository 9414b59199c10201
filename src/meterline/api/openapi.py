"""The OpenAPI document: FastAPI's, plus the dialects' shared components. The fast routes
(``api/fastpath.py``) add nothing: the FastAPI routes they shadow document them."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

FLEXPRICE_ERROR = {
    "type": "object",
    "required": ["code", "message", "http_status_code"],
    "properties": {
        "code": {"type": "string"},
        "message": {"type": "string"},
        "http_status_code": {"type": "integer"},
        "details": {"type": "object"},
    },
}


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        components = schema.setdefault("components", {})
        components.setdefault("schemas", {})["FlexpriceError"] = FLEXPRICE_ERROR
        components.setdefault("securitySchemes", {}).update(
            {
                "ApiKeyAuth": {"type": "apiKey", "in": "header", "name": "x-api-key"},
                "BearerAuth": {"type": "http", "scheme": "bearer"},
            }
        )
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
