"""/v1 customer portal links (the SDK's ``customers.create_customer_portal_session``)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from meterline.api.deps import VendorWrite, WriteSession
from meterline.api.json import iso, json_response
from meterline.portal import service as portal

router = APIRouter(tags=["customers"])


@router.get("/customers/portal/{external_id}")
def create_customer_portal_session(
    external_id: str, request: Request, principal: VendorWrite, session: WriteSession
) -> Response:
    """A short-lived link to the customer's portal (a write, as the SDK marks it, though
    sent as GET: it makes a link)."""
    made = portal.create_portal_session(session, principal, external_id[:255])
    url = str(request.base_url).rstrip("/") + f"/portal/{made.token}"
    return json_response({"url": url, "token": made.token, "expires_at": iso(made.expires_at)})
