"""/ui pages beyond the customers: the overview and the invoice, subscription, plan, wallet,
license and instance lists.
Thin routes, as in :mod:`meterline.ui.routes`: check the query, call one view, render."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from meterline.accounts.sign_in import Caller
from meterline.api.deps import ReadSession
from meterline.invoicing.models import INVOICE_STATUSES, PAYMENT_STATUSES
from meterline.kernel.errors import DomainError
from meterline.licensing.models import INSTANCE_STATUSES, LIFECYCLE_STATES
from meterline.subscriptions.service import SUBSCRIPTION_STATUSES
from meterline.ui import lists, overview
from meterline.ui.routes import UiCaller, error_page, render
from meterline.wallets.models import WALLET_STATUSES

router = APIRouter(prefix="/ui", include_in_schema=False)

# Annotated, so each parameter gets its own copy of the Query: one Query object shared as
# the default of several parameters takes the first one's name as the alias of them all.
Text = Annotated[str, Query(max_length=lists.MAX_QUERY)]
Choice = Annotated[str, Query(max_length=32)]
LicenseChoice = Annotated[str, Query(max_length=64, alias="license")]
PageNumber = Annotated[int, Query(ge=1, le=100_000)]


def _page(request: Request, caller: Caller, name: str, build: Any, **extra: Any) -> Response:
    try:
        found = build()
    except DomainError as exc:
        return error_page(request, caller, exc)
    return render(request, name, caller=caller, found=found, **extra)


@router.get("/overview")
def overview_page(request: Request, caller: UiCaller, session: ReadSession) -> Response:
    return _page(
        request, caller, "overview.html", lambda: overview.overview(session, caller.principal)
    )


@router.get("/invoices")
def invoice_list(
    request: Request,
    caller: UiCaller,
    session: ReadSession,
    q: Text = "",
    status: Choice = "",
    payment: Choice = "",
    sort: Choice = "",
    order: Choice = "",
    page: PageNumber = 1,
) -> Response:
    s = lists.state(q, status, payment, sort, order, page, lists.INVOICE_SORTS)
    return _page(
        request,
        caller,
        "invoices.html",
        lambda: lists.invoice_list(session, caller.principal, s),
        statuses=INVOICE_STATUSES,
        payments=PAYMENT_STATUSES,
        sorts=lists.INVOICE_SORTS,
    )


@router.get("/subscriptions")
def subscription_list(
    request: Request,
    caller: UiCaller,
    session: ReadSession,
    status: Choice = "",
    sort: Choice = "",
    order: Choice = "",
    page: PageNumber = 1,
) -> Response:
    s = lists.state("", status, "", sort, order, page, lists.SUBSCRIPTION_SORTS)
    return _page(
        request,
        caller,
        "subscriptions.html",
        lambda: lists.subscription_list(session, caller.principal, s),
        statuses=SUBSCRIPTION_STATUSES,
        sorts=lists.SUBSCRIPTION_SORTS,
    )


@router.get("/plans")
def plan_list(
    request: Request,
    caller: UiCaller,
    session: ReadSession,
    q: Text = "",
    sort: Choice = "",
    order: Choice = "",
    page: PageNumber = 1,
) -> Response:
    s = lists.state(q, "", "", sort, order, page, lists.PLAN_SORTS)
    return _page(
        request,
        caller,
        "plans.html",
        lambda: lists.plan_list(session, caller.principal, s),
        sorts=lists.PLAN_SORTS,
    )


@router.get("/wallets")
def wallet_list(
    request: Request,
    caller: UiCaller,
    session: ReadSession,
    q: Text = "",
    status: Choice = "",
    currency: Choice = "",
    sort: Choice = "",
    order: Choice = "",
    page: PageNumber = 1,
) -> Response:
    s = lists.state(q, status, "", sort, order, page, lists.WALLET_SORTS, currency=currency)
    return _page(
        request,
        caller,
        "wallets.html",
        lambda: lists.wallet_list(session, caller.principal, s),
        statuses=WALLET_STATUSES,
        sorts=lists.WALLET_SORTS,
    )


@router.get("/licenses")
def license_list(
    request: Request,
    caller: UiCaller,
    session: ReadSession,
    q: Text = "",
    status: Choice = "",
    sort: Choice = "",
    order: Choice = "",
    page: PageNumber = 1,
) -> Response:
    s = lists.state(q, status, "", sort, order, page, lists.LICENSE_SORTS)
    return _page(
        request,
        caller,
        "licenses.html",
        lambda: lists.license_list(session, caller.principal, s),
        statuses=LIFECYCLE_STATES,
        sorts=lists.LICENSE_SORTS,
    )


@router.get("/instances")
def instance_list(
    request: Request,
    caller: UiCaller,
    session: ReadSession,
    q: Text = "",
    status: Choice = "",
    license_id: LicenseChoice = "",
    sort: Choice = "",
    order: Choice = "",
    page: PageNumber = 1,
) -> Response:
    s = lists.state(q, status, "", sort, order, page, lists.INSTANCE_SORTS, license_id=license_id)
    return _page(
        request,
        caller,
        "instances.html",
        lambda: lists.instance_list(session, caller.principal, s),
        statuses=INSTANCE_STATUSES,
        sorts=lists.INSTANCE_SORTS,
    )
