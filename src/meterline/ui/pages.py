"""/ui pages beyond the customers: the overview and the invoice, subscription and plan lists.
Thin routes, as in :mod:`meterline.ui.routes`: check the query, call one view, render."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from meterline.api.deps import ReadSession
from meterline.invoicing.models import INVOICE_STATUSES, PAYMENT_STATUSES
from meterline.kernel.errors import DomainError
from meterline.subscriptions.service import SUBSCRIPTION_STATUSES
from meterline.ui import lists, overview
from meterline.ui.headers import secured
from meterline.ui.routes import UiCaller, templates

router = APIRouter(prefix="/ui", include_in_schema=False)

Text = Query(default="", max_length=lists.MAX_QUERY)
Choice = Query(default="", max_length=32)
PageNumber = Query(default=1, ge=1, le=100_000)


def _render(request: Request, name: str, status: int = 200, **context: Any) -> Response:
    page = templates.TemplateResponse(
        request, name, {**context, "signed_in": True}, status_code=status
    )
    return secured(page)


def _page(request: Request, name: str, build: Any, **extra: Any) -> Response:
    try:
        found = build()
    except DomainError as exc:
        return _render(request, "error.html", 400, message=str(exc))
    return _render(request, name, found=found, **extra)


@router.get("/overview")
def overview_page(request: Request, principal: UiCaller, session: ReadSession) -> Response:
    return _page(request, "overview.html", lambda: overview.overview(session, principal))


@router.get("/invoices")
def invoice_list(
    request: Request,
    principal: UiCaller,
    session: ReadSession,
    q: str = Text,
    status: str = Choice,
    payment: str = Choice,
    sort: str = Choice,
    order: str = Choice,
    page: int = PageNumber,
) -> Response:
    s = lists.state(q, status, payment, sort, order, page, lists.INVOICE_SORTS)
    return _page(
        request,
        "invoices.html",
        lambda: lists.invoice_list(session, principal, s),
        statuses=INVOICE_STATUSES,
        payments=PAYMENT_STATUSES,
        sorts=lists.INVOICE_SORTS,
    )


@router.get("/subscriptions")
def subscription_list(
    request: Request,
    principal: UiCaller,
    session: ReadSession,
    status: str = Choice,
    sort: str = Choice,
    order: str = Choice,
    page: int = PageNumber,
) -> Response:
    s = lists.state("", status, "", sort, order, page, lists.SUBSCRIPTION_SORTS)
    return _page(
        request,
        "subscriptions.html",
        lambda: lists.subscription_list(session, principal, s),
        statuses=SUBSCRIPTION_STATUSES,
        sorts=lists.SUBSCRIPTION_SORTS,
    )


@router.get("/plans")
def plan_list(
    request: Request,
    principal: UiCaller,
    session: ReadSession,
    q: str = Text,
    sort: str = Choice,
    order: str = Choice,
    page: int = PageNumber,
) -> Response:
    s = lists.state(q, "", "", sort, order, page, lists.PLAN_SORTS)
    return _page(
        request,
        "plans.html",
        lambda: lists.plan_list(session, principal, s),
        sorts=lists.PLAN_SORTS,
    )
