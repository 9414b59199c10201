"""The `report` ceiling: a bare FastAPI app that parses the same body and answers at once."""

from __future__ import annotations

import sys
from decimal import Decimal
from typing import Literal

import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel

app = FastAPI()


class Value(BaseModel):
    type: Literal["number"]
    value: Decimal


class Report(BaseModel):
    value: Value
    behavior: Literal["append", "set"] = "append"


@app.post("/api/instances/{instance}/entitlements/{entitlement}/usage")
async def report(instance: str, entitlement: str, body: Report) -> dict[str, object]:
    return {"entitlementSlug": entitlement, "value": {"type": "number", "value": 1}}


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
