"""/portal: what one customer sees of itself, through the short-lived link
``customers.create_customer_portal_session`` made (meterline.portal.service).

Server-rendered with inline CSS and SVG: no script, nothing fetched from another host, so
it works offline. The customer is the link's, never the request's: no parameter of these
routes can name another. Answers carry ``Referrer-Policy: no-referrer`` (the token is in the
path and must not leak to a site a customer follows a link to), ``Cache-Control:
no-store`` and a Content-Security-Policy naming only this server.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from meterline.api.deps import ReadSession, WriteSession
from meterline.kernel.errors import DomainError, NotFound, Unauthenticated
from meterline.licensing import instances as licensing_instances
from meterline.portal import service as portal
from meterline.ui import views
from meterline.ui.routes import pdf_response, templates

router = APIRouter(prefix="/portal", include_in_schema=False)
HEADERS = {
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'unsafe-inline'; "
        "frame-ancestors 'none'; form-action 'none'"
    ),
}


def _refused(request: Request, exc: DomainError) -> Response:
    status = 401 if isinstance(exc, Unauthenticated) else 404 if isinstance(exc, NotFound) else 400
    return templates.TemplateResponse(
        request, "portal_error.html", {"message": str(exc)}, status_code=status, headers=HEADERS
    )


@router.get("/{token}")
def portal_home(token: str, request: Request, session: ReadSession) -> Response:
    try:
        caller = portal.caller_of(session, token)
        page = views.portal_page(session, caller)
    except DomainError as exc:
        return _refused(request, exc)
    return templates.TemplateResponse(
        request, "portal.html", {"p": page, "token": token}, headers=HEADERS
    )


@router.get("/{token}/invoices/{invoice_id}/pdf")
def portal_invoice_pdf(
    token: str, invoice_id: str, request: Request, session: ReadSession
) -> Response:
    try:
        caller = portal.caller_of(session, token)
        invoice, document = views.portal_invoice_pdf(session, caller, invoice_id[:64])
    except DomainError as exc:
        return _refused(request, exc)
    response = pdf_response(invoice.invoice_number or "invoice", document)
    response.headers.update(HEADERS)
    return response


@router.get("/{token}/instances/{slug}/license-file")
def portal_license_file(token: str, slug: str, request: Request, session: WriteSession) -> Response:
    """The signed license file of one of the customer's installations (as
    ``GET /api/instances/{slug}/license-file`` issues it); another customer's is not found."""
    try:
        caller = portal.caller_of(session, token)
        instance = licensing_instances.get_instance(session, caller.principal, slug[:255])
        if instance.customer_id != caller.customer.id:
            raise NotFound("instance", slug[:255])
        text = licensing_instances.issue_license_file(session, caller.principal, instance.slug)
    except DomainError as exc:
        return _refused(request, exc)
    disposition = {"Content-Disposition": f'attachment; filename="{instance.slug}.lic"'}
    return Response(
        text, media_type="application/x-meterline-license", headers={**HEADERS, **disposition}
    )
