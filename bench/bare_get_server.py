"""The `check` ceiling: a bare FastAPI GET on one uvicorn worker (no logic, no database)."""

from __future__ import annotations

import sys

import uvicorn
from fastapi import FastAPI

app = FastAPI()


@app.get("/v1/customers/usage")
async def usage() -> dict[str, object]:
    return {"customer_id": "c", "features": []}


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
