"""/v1 environment clone (the SDK's ``environments.clone_environment``)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Response
from pydantic import Field

from meterline.api.deps import Vendor, WriteSession
from meterline.api.flexprice.common import WireModel
from meterline.api.json import json_response
from meterline.catalog import clone
from meterline.db.base import new_id

router = APIRouter(tags=["accounts"])


class CloneIn(WireModel):
    name: str | None = Field(default=None, max_length=255)
    target_environment_id: str | None = Field(default=None, max_length=64)
    type: Literal["development", "production"] | None = None


@router.post("/environments/{env_id}/clone", status_code=202)
def clone_environment(
    env_id: str, body: CloneIn, principal: Vendor, session: WriteSession
) -> Response:
    """Copies the catalog in this request's transaction: the 202 answers a finished copy
    (the SDK's model is a workflow's; its ids name this one run), with a report."""
    report = clone.clone_environment(
        session,
        principal,
        env_id[:64],
        target_id=body.target_environment_id,
        name=body.name,
        env_type=body.type,
    )
    summary = ", ".join(f"{count} {kind}" for kind, count in report.copied.items())
    run = new_id("clone")
    return json_response(
        {
            "message": f"Cloned into {report.target_environment_id}: {summary}",
            "workflow_id": run,
            "run_id": run,
            "source_environment_id": report.source_environment_id,
            "target_environment_id": report.target_environment_id,
            "copied": report.copied,
            "lookup_keys": report.keys,
        },
        202,
    )
