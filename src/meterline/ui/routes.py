"""/ui: the dashboard. Thin routes: read the session cookie, check the form's CSRF token
and the caller's role, call one view or service, render.

A person signs in with email and password, or an operator with an API key
(:mod:`meterline.accounts.sign_in`); the browser then holds only an HTTP-only,
SameSite=Lax cookie with a random session token. Every form carries a CSRF token: the
session's own (``csrf``) once signed in, and before that the sign-in form's, matched
against a short-lived cookie of its own (a double submit), so no other site can sign a
browser in to an account of its choosing.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from meterline.accounts import sign_in, tenants
from meterline.activity import recorder
from meterline.api.deps import ReadSession, request_actor, require_vendor
from meterline.db.engine import Database
from meterline.invoicing import pdf
from meterline.invoicing import service as invoices
from meterline.kernel.errors import (
    DomainError,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    TooManyRequests,
    Unauthenticated,
)
from meterline.ui import views
from meterline.ui.charts import number
from meterline.ui.headers import secured

COOKIE = "meterline_ui"
LOGIN_COOKIE = "meterline_ui_login"
MAX_FIELD = 2000  # every text field of a dashboard form
MAX_LOGO_BYTES = 140_000  # stays under accounts/tenants.MAX_LOGO_CHARS once in base64
router = APIRouter(prefix="/ui", include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
templates.env.filters["number"] = number
templates.env.filters["money"] = lambda amount, currency: pdf.money(amount, currency)
templates.env.filters["day"] = lambda moment: moment.strftime("%Y-%m-%d") if moment else "–"
templates.env.filters["when"] = lambda m: m.strftime("%Y-%m-%d %H:%M UTC") if m else "–"

T = TypeVar("T")


class _SignIn(Exception):
    """Raised by the caller dependency when there is no valid session."""


def ui_caller(request: Request, session: ReadSession) -> sign_in.Caller:
    try:
        caller = sign_in.caller_of(session, request.cookies.get(COOKIE))
    except Unauthenticated as exc:
        raise _SignIn from exc
    request.state.principal = caller.principal  # the actor of the dashboard's writes
    return caller


UiCaller = Annotated[sign_in.Caller, Depends(ui_caller)]


def install(app: Any) -> None:
    """Send unauthenticated dashboard requests to the sign-in page."""

    async def to_sign_in(_request: Request, _exc: Exception) -> Response:
        return RedirectResponse("/ui/login", status_code=303)

    app.add_exception_handler(_SignIn, to_sign_in)


def render(
    request: Request,
    name: str,
    status: int = 200,
    caller: sign_in.Caller | None = None,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> Response:
    context.setdefault("signed_in", caller is not None)
    context["caller"] = caller
    context["csrf"] = caller.csrf if caller is not None else context.get("csrf", "")
    page = templates.TemplateResponse(request, name, context, status_code=status, headers=headers)
    return secured(page)


def _status_of(exc: DomainError) -> int:
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, PermissionDenied):
        return 403
    if isinstance(exc, TooManyRequests):
        return 429
    return 400


def error_page(request: Request, caller: sign_in.Caller | None, exc: DomainError) -> Response:
    return render(request, "error.html", _status_of(exc), caller, message=str(exc))


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def form_text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value[:MAX_FIELD] if isinstance(value, str) else ""


async def read_form(request: Request, caller: sign_in.Caller) -> FormData:
    """The posted form, once its CSRF token is the session's (else PermissionDenied)."""
    form = await request.form(max_files=1, max_fields=50)
    sign_in.check_csrf(caller.csrf, form_text(form, "csrf"))
    return form


async def write(request: Request, work: Callable[[Any], T]) -> T:
    """Runs ``work(session)`` in one write transaction, off the event loop; its writes land
    in the activity log as the signed-in person's (activity/recorder.py)."""

    def run() -> T:
        with _db(request).session() as session:
            recorder.attach(session, lambda: request_actor(request))
            return work(session)

    return await run_in_threadpool(run)


@router.get("")
@router.get("/")
def home() -> Response:
    return RedirectResponse("/ui/overview", status_code=303)


# --- signing in and out --------------------------------------------------------------------


def _login_page(
    request: Request, status: int = 200, error: str | None = None, retry_after: int | None = None
) -> Response:
    token = secrets.token_urlsafe(24)
    headers = {"Retry-After": str(retry_after)} if retry_after else None
    response = render(
        request, "login.html", status, None, headers, error=error, csrf=token, signed_in=False
    )
    response.set_cookie(
        LOGIN_COOKIE,
        token,
        max_age=3600,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/ui/login",
    )
    return response


@router.get("/login")
def login_form(request: Request) -> Response:
    return _login_page(request)


@router.post("/login")
async def login(request: Request) -> Response:
    form = await request.form(max_files=0, max_fields=10)
    expected = request.cookies.get(LOGIN_COOKIE) or ""
    presented = form_text(form, "csrf")
    if not expected or not secrets.compare_digest(
        expected[:128].encode("utf-8"), presented[:128].encode("utf-8")
    ):
        return _login_page(request, 403, "The sign-in form has expired; try again")
    address = _address(request)
    email, password, key = (
        form_text(form, "email"),
        form_text(form, "password"),
        form_text(form, "api_key"),
    )
    db = _db(request)

    def password_sign_in() -> str:
        try:
            with db.session(write=False) as session:
                user_id = sign_in.check_password(session, email, password, address).id
        except Unauthenticated:
            with db.session() as session:
                sign_in.record_failure(session, sign_in.normal_email(email) or None, address)
            raise
        with db.session() as session:
            return sign_in.open_password_session(session, user_id, password, address)

    def key_sign_in() -> str:
        try:
            with db.session() as session:
                return sign_in.sign_in_with_key(session, key, address)
        except (Unauthenticated, PermissionDenied):
            with db.session() as session:
                sign_in.record_failure(session, None, address)
            raise

    try:
        token = await run_in_threadpool(key_sign_in if key else password_sign_in)
    except TooManyRequests as exc:
        return _login_page(request, 429, str(exc), exc.retry_after)
    except (Unauthenticated, PermissionDenied) as exc:
        return _login_page(request, 401, str(exc))
    response = RedirectResponse("/ui/customers", status_code=303)
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(sign_in.SESSION_LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/ui",
    )
    response.delete_cookie(LOGIN_COOKIE, path="/ui/login")
    return response


@router.post("/logout")
async def logout(request: Request, caller: UiCaller) -> Response:
    try:
        await read_form(request, caller)
    except DomainError as exc:
        return error_page(request, caller, exc)
    token = request.cookies.get(COOKIE)
    await write(request, lambda session: sign_in.sign_out(session, token))
    response = RedirectResponse("/ui/login", status_code=303)
    response.delete_cookie(COOKIE, path="/ui")
    return response


# --- the signed-in person: sessions, password, environment ----------------------------------


@router.get("/account")
def account(request: Request, caller: UiCaller, session: ReadSession) -> Response:
    return render(
        request,
        "account.html",
        caller=caller,
        sessions=sign_in.sessions_of(session, caller),
        environments=sign_in.environments_of(session, caller),
        message=request.query_params.get("done", "")[:40],
    )


async def _account_action(
    request: Request, caller: sign_in.Caller, action: Callable[[Any, FormData], None], done: str
) -> Response:
    try:
        form = await read_form(request, caller)
        await write(request, lambda session: action(session, form))
    except DomainError as exc:
        return error_page(request, caller, exc)
    return RedirectResponse(f"/ui/account?done={done}", status_code=303)


@router.post("/account/sessions/revoke")
async def revoke_session(request: Request, caller: UiCaller) -> Response:
    def revoke(session: Any, form: FormData) -> None:
        sign_in.revoke_session(session, caller, form_text(form, "session"))

    return await _account_action(request, caller, revoke, "revoked")


@router.post("/account/password")
async def change_password(request: Request, caller: UiCaller) -> Response:
    def change(session: Any, form: FormData) -> None:
        new = form_text(form, "password")
        if new != form_text(form, "password_confirm"):
            raise InvalidRequest("the two new passwords differ", field="password")
        sign_in.change_password(session, caller, form_text(form, "current_password"), new)

    return await _account_action(request, caller, change, "password")


@router.post("/account/environment")
async def switch_environment(request: Request, caller: UiCaller) -> Response:
    def switch(session: Any, form: FormData) -> None:
        sign_in.switch_environment(session, caller, form_text(form, "environment_id"))

    response = await _account_action(request, caller, switch, "environment")
    if response.status_code == 303:
        return RedirectResponse("/ui/customers", status_code=303)
    return response


# --- the seller's profile ------------------------------------------------------------------


@router.get("/settings/profile")
def profile_form(request: Request, caller: UiCaller, session: ReadSession) -> Response:
    organization, profile = tenants.own_tenant(session, caller.principal.organization_id)
    return render(
        request,
        "profile.html",
        caller=caller,
        organization=organization,
        profile=profile,
        tax_ids=tenants.format_tax_ids(profile.tax_ids or []) if profile else "",
        editable=caller.principal.may("write", "billing"),
        saved=request.query_params.get("saved") == "1",
    )


async def _logo_of(form: FormData) -> str | None:
    upload = form.get("logo")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return None
    raw = await upload.read(MAX_LOGO_BYTES + 1)
    if len(raw) > MAX_LOGO_BYTES:
        raise InvalidRequest(f"the logo has at most {MAX_LOGO_BYTES} bytes", field="logo")
    media = "image/png" if raw.startswith(b"\x89PNG") else "image/jpeg"
    return f"data:{media};base64,{base64.b64encode(raw).decode('ascii')}"


@router.post("/settings/profile")
async def save_profile(request: Request, caller: UiCaller) -> Response:
    try:
        form = await read_form(request, caller)
        logo = await _logo_of(form)
    except DomainError as exc:
        return error_page(request, caller, exc)

    def save(session: Any) -> None:
        _, profile = tenants.own_tenant(session, caller.principal.organization_id)
        metadata = dict(tenants.profile_metadata(profile))
        for key in ("legal_name", "tax_ids", "invoice_footer", "payment_terms"):
            metadata[key] = form_text(form, key)
        if logo is not None:
            metadata["logo"] = logo
        elif form.get("remove_logo"):
            metadata.pop("logo", None)
        change = tenants.TenantUpdate(
            name=form_text(form, "name") or None,
            email=form_text(form, "email"),
            help_email=form_text(form, "help_email"),
            phone=form_text(form, "phone"),
            address={name: form_text(form, name) for name in tenants.ADDRESS_FIELDS},
            metadata={k: v for k, v in metadata.items() if v},
        )
        tenants.update_tenant(session, caller.principal, change)

    try:
        await write(request, save)
    except DomainError as exc:
        return error_page(request, caller, exc)
    return RedirectResponse("/ui/settings/profile?saved=1", status_code=303)


# --- customers and invoices ----------------------------------------------------------------


@router.get("/customers")
def customer_list(
    request: Request,
    caller: UiCaller,
    session: ReadSession,
    q: str = Query(default="", max_length=255),
    page: int = Query(default=1, ge=1, le=100_000),
) -> Response:
    try:
        found = views.customer_list(session, caller.principal, q, page)
    except DomainError as exc:
        return error_page(request, caller, exc)
    return render(request, "customers.html", caller=caller, found=found)


@router.get("/customers/{customer_id}")
def customer_detail(
    customer_id: str, request: Request, caller: UiCaller, session: ReadSession
) -> Response:
    try:
        page = views.customer_page(session, caller.principal, customer_id)
    except DomainError as exc:
        return error_page(request, caller, exc)
    may_bill = caller.principal.may("write", "finance")
    return render(request, "customer.html", caller=caller, page=page, may_bill=may_bill)


@router.post("/invoices/{invoice_id}/finalize")
async def finalize_invoice(invoice_id: str, request: Request, caller: UiCaller) -> Response:
    """A finance action: the roles that may finalize on /v1 may here, and no other."""
    try:
        await read_form(request, caller)
        require_vendor(caller.principal, "write", "/v1/invoices")
        invoice = await write(
            request,
            lambda session: invoices.finalize_invoice(session, caller.principal, invoice_id[:64]),
        )
    except DomainError as exc:
        return error_page(request, caller, exc)
    return RedirectResponse(f"/ui/customers/{invoice.customer_id}", status_code=303)


@router.get("/invoices/{invoice_id}/pdf")
def invoice_pdf(
    invoice_id: str, request: Request, caller: UiCaller, session: ReadSession
) -> Response:
    try:
        invoice, document = pdf.invoice_pdf(session, caller.principal, invoice_id)
    except DomainError as exc:
        return error_page(request, caller, exc)
    return pdf_response(invoice.invoice_number or invoice.id, document)


def pdf_response(name: str, document: bytes) -> Response:
    return Response(
        document,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}.pdf"'},
    )
