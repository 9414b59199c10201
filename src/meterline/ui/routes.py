"""/ui: the dashboard. Thin routes: read the session cookie, call one view, render.

Sign-in takes an API key once; the browser then holds only an HTTP-only, SameSite=Lax
cookie with a random session token (see :mod:`meterline.ui.sessions`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from meterline.accounts.principal import Principal
from meterline.api.deps import ReadSession, WriteSession
from meterline.invoicing import pdf
from meterline.kernel.errors import DomainError, NotFound, PermissionDenied, Unauthenticated
from meterline.ui import sessions, views
from meterline.ui.charts import number

COOKIE = "meterline_ui"
router = APIRouter(prefix="/ui", include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
templates.env.filters["number"] = number
templates.env.filters["money"] = lambda amount, currency: pdf.money(amount, currency)
templates.env.filters["day"] = lambda moment: moment.strftime("%Y-%m-%d") if moment else "–"


class _SignIn(Exception):
    """Raised by the principal dependency when there is no valid session."""


def ui_principal(request: Request, session: ReadSession) -> Principal:
    try:
        principal = sessions.principal_of(session, request.cookies.get(COOKIE))
    except Unauthenticated as exc:
        raise _SignIn from exc
    request.state.principal = principal  # the actor of the dashboard's writes
    return principal


UiCaller = Annotated[Principal, Depends(ui_principal)]


def install(app: Any) -> None:
    """Send unauthenticated dashboard requests to the sign-in page."""

    async def to_sign_in(_request: Request, _exc: Exception) -> Response:
        return RedirectResponse("/ui/login", status_code=303)

    app.add_exception_handler(_SignIn, to_sign_in)


def _render(request: Request, name: str, status: int = 200, **context: Any) -> Response:
    return templates.TemplateResponse(request, name, context, status_code=status)


def _error(request: Request, exc: DomainError) -> Response:
    status = 404 if isinstance(exc, NotFound) else 400
    return _render(request, "error.html", status, message=str(exc), signed_in=True)


@router.get("")
@router.get("/")
def home() -> Response:
    return RedirectResponse("/ui/customers", status_code=303)


@router.get("/login")
def login_form(request: Request) -> Response:
    return _render(request, "login.html", error=None, signed_in=False)


@router.post("/login")
async def login(request: Request) -> Response:
    form = await request.form()
    key = str(form.get("api_key") or "")[:512]
    db = request.app.state.db
    try:
        with db.session() as session:
            token = sessions.sign_in(session, key)
    except (Unauthenticated, PermissionDenied) as exc:
        return _render(request, "login.html", 401, error=str(exc), signed_in=False)
    response = RedirectResponse("/ui/customers", status_code=303)
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(sessions.SESSION_LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/ui",
    )
    return response


@router.post("/logout")
def logout(request: Request, session: WriteSession) -> Response:
    sessions.sign_out(session, request.cookies.get(COOKIE))
    response = RedirectResponse("/ui/login", status_code=303)
    response.delete_cookie(COOKIE, path="/ui")
    return response


@router.get("/customers")
def customer_list(
    request: Request,
    principal: UiCaller,
    session: ReadSession,
    q: str = Query(default="", max_length=255),
    page: int = Query(default=1, ge=1, le=100_000),
) -> Response:
    try:
        found = views.customer_list(session, principal, q, page)
    except DomainError as exc:
        return _error(request, exc)
    return _render(request, "customers.html", found=found, signed_in=True)


@router.get("/customers/{customer_id}")
def customer_detail(
    customer_id: str, request: Request, principal: UiCaller, session: ReadSession
) -> Response:
    try:
        page = views.customer_page(session, principal, customer_id)
    except DomainError as exc:
        return _error(request, exc)
    return _render(request, "customer.html", page=page, signed_in=True)


@router.get("/invoices/{invoice_id}/pdf")
def invoice_pdf(
    invoice_id: str, request: Request, principal: UiCaller, session: ReadSession
) -> Response:
    try:
        invoice, document = pdf.invoice_pdf(session, principal, invoice_id)
    except DomainError as exc:
        return _error(request, exc)
    filename = f"{invoice.invoice_number or invoice.id}.pdf"
    return Response(
        document,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
