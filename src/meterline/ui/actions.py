"""The dashboard's actions: each a POST form with the session's CSRF token, allowed to the
roles that may do the same on /v1 (``require_vendor`` with the /v1 path), done by the same
service call as the API in one write transaction, then a redirect to the page it changes.
A refusal renders the error page with the reason (400, 403 or 404)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from meterline.accounts import service as accounts
from meterline.accounts.models import ApiKey
from meterline.accounts.principal import Principal
from meterline.accounts.sign_in import Caller
from meterline.api.deps import ReadSession, require_vendor
from meterline.customers import service as customers
from meterline.customers.commands import CreateCustomer
from meterline.invoicing import payment_status
from meterline.invoicing import service as invoices
from meterline.kernel import money
from meterline.kernel.errors import DomainError, InvalidRequest
from meterline.subscriptions import service as subscriptions
from meterline.subscriptions.commands import CreateSubscription
from meterline.ui.routes import UiCaller, error_page, form_text, read_form, render, write
from meterline.wallets import service as wallets
from meterline.webhooks import service as webhooks
from meterline.webhooks.commands import CreateEndpoint
from meterline.webhooks.models import WebhookEndpoint

router = APIRouter(prefix="/ui", include_in_schema=False)
PathId = Annotated[str, Path(max_length=64)]
KEYS_SHOWN = 100
ENDPOINTS_SHOWN = 50
DELIVERIES_SHOWN = 20


def _see(path: str) -> Response:
    return RedirectResponse(path, status_code=303)


def _required(form: FormData, name: str) -> str:
    value = form_text(form, name).strip()
    if not value:
        raise InvalidRequest(f"{name} is required", field=name)
    return value


def _amount(form: FormData, name: str) -> Decimal:
    try:
        value = Decimal(_required(form, name))
    except InvalidOperation:
        raise InvalidRequest(f"{name} must be a number", field=name) from None
    if not value.is_finite() or value <= 0:
        raise InvalidRequest(f"{name} must be more than 0", field=name)
    reason = money.problem(value)
    if reason is not None:
        raise InvalidRequest(f"{name} {reason}", field=name)
    return value


async def _act(request: Request, caller: Caller, path: str, work: Any, then: Any) -> Response:
    """CSRF, then the role of ``path``, then ``work(session, principal, form)`` in one write
    transaction; ``then(result)`` is where the browser goes next."""
    try:
        form = await read_form(request, caller)
        principal = require_vendor(caller.principal, "write", path)
        done = await write(request, lambda session: work(session, principal, form))
    except DomainError as exc:
        return error_page(request, caller, exc)
    return _see(then(done))


# --- customers and subscriptions ---------------------------------------------------------


@router.post("/customers")
async def create_customer(request: Request, caller: UiCaller) -> Response:
    def work(session: Any, principal: Principal, form: FormData) -> Any:
        command = CreateCustomer(
            external_id=_required(form, "external_id"),
            name=_required(form, "name"),
            email=form_text(form, "email").strip() or None,
        )
        return customers.create_customer(session, principal, command)

    return await _act(request, caller, "/v1/customers", work, lambda c: f"/ui/customers/{c.id}")


@router.post("/customers/{customer_id}/subscriptions")
async def create_subscription(request: Request, caller: UiCaller, customer_id: PathId) -> Response:
    def work(session: Any, principal: Principal, form: FormData) -> Any:
        command = CreateSubscription(
            customer_id=customer_id,
            plan_id=_required(form, "plan_id"),
            currency=_required(form, "currency").lower(),
            billing_period=_required(form, "billing_period"),
        )
        return subscriptions.create_subscription(session, principal, command)

    return await _act(
        request, caller, "/v1/subscriptions", work, lambda _s: f"/ui/customers/{customer_id}"
    )


# --- invoices ----------------------------------------------------------------------------


def _back_to_customer(invoice: Any) -> str:
    return f"/ui/customers/{invoice.customer_id}"


@router.post("/invoices/{invoice_id}/void")
async def void_invoice(request: Request, caller: UiCaller, invoice_id: PathId) -> Response:
    def work(session: Any, principal: Principal, _form: FormData) -> Any:
        return invoices.void_invoice(session, principal, invoice_id)

    return await _act(request, caller, "/v1/invoices", work, _back_to_customer)


@router.post("/invoices/{invoice_id}/paid")
async def mark_paid(request: Request, caller: UiCaller, invoice_id: PathId) -> Response:
    """Records that what remains was paid outside Meterline (a bank transfer, a cheque)."""

    def work(session: Any, principal: Principal, _form: FormData) -> Any:
        return payment_status.update_payment_status(
            session, principal, invoice_id, payment_status="SUCCEEDED"
        )

    return await _act(request, caller, "/v1/invoices", work, _back_to_customer)


# --- wallets -----------------------------------------------------------------------------


@router.post("/wallets/{wallet_id}/top-up")
async def top_up(request: Request, caller: UiCaller, wallet_id: PathId) -> Response:
    def work(session: Any, principal: Principal, form: FormData) -> Any:
        wallet, _entry = wallets.top_up(
            session,
            principal,
            wallet_id,
            transaction_reason="PURCHASED_CREDIT_DIRECT",
            credits_to_add=_amount(form, "credits"),
            description="Top-up from the dashboard",
        )
        return wallet

    return await _act(
        request, caller, "/v1/wallets", work, lambda w: f"/ui/customers/{w.customer_id}"
    )


# --- API keys ----------------------------------------------------------------------------


@dataclass
class KeysPage:
    keys: list[ApiKey]
    total: int


@router.get("/keys")
def key_list(request: Request, caller: UiCaller, session: ReadSession) -> Response:
    try:
        require_vendor(caller.principal, "read", "/v1/secrets")
        keys, total = accounts.list_api_keys(
            session, caller.principal, limit=KEYS_SHOWN, offset=0, status="published"
        )
    except DomainError as exc:
        return error_page(request, caller, exc)
    return render(request, "keys.html", caller=caller, found=KeysPage(keys, total), minted=None)


@router.post("/keys")
async def mint_key(request: Request, caller: UiCaller) -> Response:
    """A new key with the caller's own scopes at most; its plaintext is shown once."""
    try:
        form = await read_form(request, caller)
        principal = require_vendor(caller.principal, "write", "/v1/secrets")
        name = _required(form, "name")

        def work(session: Any) -> tuple[str, KeysPage]:
            _key, plaintext = accounts.create_api_key(
                session,
                organization_id=principal.organization_id,
                environment_id=principal.environment_id,
                user_id=principal.user_id,
                name=name,
                scopes=sorted(principal.scopes),
                creator=principal,
            )
            keys, total = accounts.list_api_keys(
                session, principal, limit=KEYS_SHOWN, offset=0, status="published"
            )
            return plaintext, KeysPage(keys, total)

        plaintext, page = await write(request, work)
    except DomainError as exc:
        return error_page(request, caller, exc)
    # The page that shows the plaintext is not cached (the one response that carries it).
    return render(
        request,
        "keys.html",
        200,
        caller,
        {"Cache-Control": "no-store"},
        found=page,
        minted=plaintext,
    )


@router.post("/keys/{key_id}/revoke")
async def revoke_key(request: Request, caller: UiCaller, key_id: PathId) -> Response:
    def work(session: Any, principal: Principal, _form: FormData) -> Any:
        accounts.revoke_api_key(session, principal, key_id)

    return await _act(request, caller, "/v1/secrets", work, lambda _r: "/ui/keys")


# --- webhooks ----------------------------------------------------------------------------


@dataclass
class EndpointView:
    endpoint: WebhookEndpoint
    deliveries: list[Any]


@router.get("/webhooks")
def webhook_list(request: Request, caller: UiCaller, session: ReadSession) -> Response:
    try:
        principal = require_vendor(caller.principal, "read", "/v1/webhooks")
        endpoints, _total = webhooks.list_endpoints(
            session, principal, limit=ENDPOINTS_SHOWN, offset=0
        )
        views = []
        for endpoint in endpoints:
            logged, _n = webhooks.list_deliveries(
                session, principal, endpoint.id, limit=DELIVERIES_SHOWN, offset=0
            )
            views.append(EndpointView(endpoint, logged))
    except DomainError as exc:
        return error_page(request, caller, exc)
    return render(request, "webhooks.html", caller=caller, found=views)


@router.post("/webhooks")
async def add_endpoint(request: Request, caller: UiCaller) -> Response:
    allow_private = request.app.state.settings.webhooks.allow_private

    def work(session: Any, principal: Principal, form: FormData) -> Any:
        command = CreateEndpoint(
            url=_required(form, "url"), description=form_text(form, "description") or None
        )
        return webhooks.create_endpoint(session, principal, command, allow_private=allow_private)

    return await _act(request, caller, "/v1/webhooks", work, lambda _e: "/ui/webhooks")


@router.post("/webhooks/{endpoint_id}/deliveries/{delivery_id}/replay")
async def replay(
    request: Request, caller: UiCaller, endpoint_id: PathId, delivery_id: PathId
) -> Response:
    def work(session: Any, principal: Principal, _form: FormData) -> Any:
        return webhooks.replay_delivery(session, principal, endpoint_id, delivery_id)

    return await _act(request, caller, "/v1/webhooks", work, lambda _d: "/ui/webhooks")
