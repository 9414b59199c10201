"""/v1 wallets: create (200, as upstream), read, update, top-up, transactions, terminate,
balances; and a customer's wallets."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import Field
from starlette.responses import Response

from meterline.alerts import service as alerts
from meterline.api.deps import ReadSession, Vendor, VendorRead, WriteSession
from meterline.api.flexprice.alert_settings import AlertConfigIn
from meterline.api.flexprice.common import Page, WireModel, decimal_text, list_response
from meterline.api.flexprice.filters import FilterQuery, refuse_expand, refuse_query_params
from meterline.api.json import iso, json_response
from meterline.db.base import utcnow
from meterline.invoicing import accrued
from meterline.invoicing import service as invoices
from meterline.kernel import money
from meterline.kernel.errors import InvalidRequest
from meterline.kernel.instants import OptionalInstant
from meterline.wallets import auto_topup
from meterline.wallets import service as wallets
from meterline.wallets.models import Wallet, WalletTransaction

router = APIRouter(tags=["wallets"])

PriceType = Literal["ALL", "USAGE", "FIXED"]
# Expiry days as YYYYMMDD: the days of the supported instant range (kernel.instants).
MIN_YYYYMMDD = 19700101
MAX_YYYYMMDD = 21991231


class WalletConfig(WireModel):
    allowed_price_types: list[PriceType] | None = Field(default=None, max_length=3)


class CooldownIn(WireModel):
    unit: str = Field(max_length=10)
    value: int = Field(ge=0, le=31_622_400)


class AutoTopupIn(WireModel):
    enabled: bool = False
    threshold: money.Amount = Decimal(0)
    amount: money.Quantity = Decimal(0)
    invoicing: bool = False
    cooldown: CooldownIn | None = None

    def settings(self) -> auto_topup.AutoTopup:
        return auto_topup.AutoTopup(
            enabled=self.enabled,
            threshold=self.threshold,
            amount=self.amount,
            invoicing=self.invoicing,
            cooldown_unit=self.cooldown.unit if self.cooldown else None,
            cooldown_value=self.cooldown.value if self.cooldown else None,
        )


class WalletIn(WireModel):
    unsupported = frozenset({"price_unit"})
    currency: str = Field(min_length=1, max_length=3)
    customer_id: str | None = Field(default=None, max_length=64)
    external_customer_id: str | None = Field(default=None, max_length=255)
    name: str | None = Field(default=None, max_length=255)
    description: str | None = Field(default=None, max_length=2000)
    metadata: dict[str, str] | None = Field(default=None, max_length=100)
    wallet_type: str | None = Field(default=None, max_length=20)
    conversion_rate: money.Price | None = None
    topup_conversion_rate: money.Price | None = None
    initial_credits_to_load: money.Quantity | None = None
    initial_credits_expiry_date_utc: OptionalInstant = None
    initial_credits_to_load_expiry_date: int | None = Field(
        default=None, ge=MIN_YYYYMMDD, le=MAX_YYYYMMDD
    )
    config: WalletConfig | None = None
    auto_topup: AutoTopupIn | None = None
    alert_settings: AlertConfigIn | None = None


class WalletUpdate(WireModel):
    auto_topup: AutoTopupIn | None = None
    alert_settings: AlertConfigIn | None = None
    name: str | None = Field(default=None, max_length=255)
    description: str | None = Field(default=None, max_length=2000)
    metadata: dict[str, str] | None = Field(default=None, max_length=100)
    config: WalletConfig | None = None


class TopUpIn(WireModel):
    unsupported = frozenset(
        {
            "bonus_credits_expiry_date_utc",
            "bonus_credits_to_add",
            "checkout",
            "coupons",
            "effective_date",
            "force_sync_invoice",
        }
    )
    transaction_reason: str = Field(max_length=40)
    credits_to_add: money.Quantity | None = None
    amount: money.Amount | None = None
    expiry_date_utc: OptionalInstant = None
    expiry_date: int | None = Field(default=None, ge=MIN_YYYYMMDD, le=MAX_YYYYMMDD)
    priority: int | None = Field(default=None, ge=0, le=1_000_000)
    idempotency_key: str | None = Field(default=None, max_length=255)
    description: str | None = Field(default=None, max_length=2000)
    metadata: dict[str, str] | None = Field(default=None, max_length=100)


class WalletSearch(FilterQuery):
    alert_enabled: bool | None = None
    wallet_ids: list[str] | None = Field(default=None, max_length=1000)
    customer_id: str | None = Field(default=None, max_length=64)
    wallet_status: str | None = Field(default=None, max_length=20)


class WalletTransactionSearch(FilterQuery):
    """``POST /wallets/transactions/search``: every wallet's ledger; ``id`` names one wallet."""

    # Generic conditions over ledger columns are not applied yet.
    UNSUPPORTED = ("filters",)

    id: str | None = Field(default=None, max_length=64)
    type: Literal["credit", "debit"] | None = None
    transaction_reason: str | None = Field(default=None, max_length=40)
    transaction_status: str | None = Field(default=None, max_length=20)
    reference_type: str | None = Field(default=None, max_length=40)
    reference_id: str | None = Field(default=None, max_length=255)
    created_by: str | None = Field(default=None, max_length=64)
    priority: int | None = Field(default=None, ge=0, le=1_000_000)
    credits_available_gt: money.Amount | None = None
    expiry_date_after: OptionalInstant = None
    expiry_date_before: OptionalInstant = None
    status: Literal["published", "deleted", "archived"] | None = None
    order: Literal["asc", "desc"] | None = None


def _yyyymmdd(value: int | None, field: str) -> datetime | None:
    if value is None:
        return None
    from datetime import UTC

    try:
        day = datetime.strptime(str(value), "%Y%m%d").replace(tzinfo=UTC)
    except ValueError as exc:
        raise InvalidRequest(f"{field} must be a date as YYYYMMDD", field=field) from exc
    # credits expire at the end of that day (UTC)
    return day.replace(hour=23, minute=59, second=59)


def wallet_out(
    wallet: Wallet,
    balance: wallets.Balance | None = None,
    alert: tuple[str, dict[str, Any] | None] = ("ok", None),
) -> dict[str, Any]:
    credit_balance = balance.credit_balance if balance else wallet.credit_balance
    amount = (
        balance.balance
        if balance
        else money.MONEY_CONTEXT.multiply(credit_balance, wallet.conversion_rate)
    )
    out: dict[str, Any] = {
        "id": wallet.id,
        "customer_id": wallet.customer_id,
        "currency": wallet.currency,
        "name": wallet.name,
        "description": wallet.description or "",
        "metadata": wallet.metadata_ or {},
        "wallet_type": wallet.wallet_type,
        "wallet_status": wallet.wallet_status,
        "conversion_rate": decimal_text(wallet.conversion_rate),
        "topup_conversion_rate": decimal_text(wallet.topup_conversion_rate),
        "config": {"allowed_price_types": wallet.allowed_price_types},
        "credit_balance": decimal_text(credit_balance),
        "balance": decimal_text(amount),
        "environment_id": wallet.environment_id,
        "tenant_id": None,
        "status": wallet.status,
        "alert_state": alert[0],
        "alert_settings": alert[1],
        "auto_topup": _auto_topup_out(wallet),
        "created_at": iso(wallet.created_at),
        "updated_at": iso(wallet.updated_at),
        "created_by": wallet.created_by,
        "updated_by": wallet.updated_by,
    }
    if balance is not None:
        out["real_time_balance"] = decimal_text(balance.real_time_balance)
        out["real_time_credit_balance"] = decimal_text(balance.real_time_credit_balance)
        out["unpaid_invoices_amount"] = decimal_text(balance.unpaid_invoices_amount)
        out["current_period_usage"] = decimal_text(balance.current_period_usage)
        out["is_cached_fallback"] = False
    return out


def _auto_topup_out(wallet: Wallet) -> dict[str, Any] | None:
    settings = auto_topup.loaded(wallet.auto_topup)
    if settings is None:
        return None
    out: dict[str, Any] = {
        "enabled": settings.enabled,
        "threshold": settings.threshold,  # JSON numbers, as the SDK reads them
        "amount": settings.amount,
        "invoicing": settings.invoicing,
    }
    if settings.cooldown_unit is not None:
        out["cooldown"] = {"unit": settings.cooldown_unit, "value": settings.cooldown_value or 0}
    return out


def transaction_out(entry: WalletTransaction) -> dict[str, Any]:
    return {
        "id": entry.id,
        "wallet_id": entry.wallet_id,
        "customer_id": entry.customer_id,
        "type": entry.type,
        "amount": decimal_text(entry.amount),
        "credit_amount": decimal_text(entry.credit_amount),
        "credit_balance_before": decimal_text(entry.credit_balance_before),
        "credit_balance_after": decimal_text(entry.credit_balance_after),
        "credits_available": decimal_text(entry.credits_available),
        "transaction_status": entry.transaction_status,
        "transaction_reason": entry.transaction_reason,
        "reference_type": entry.reference_type,
        "reference_id": entry.reference_id,
        "description": entry.description or "",
        "metadata": entry.metadata_ or {},
        "expiry_date": iso(entry.expiry_date),
        "priority": entry.priority,
        "currency": entry.currency,
        "conversion_rate": decimal_text(entry.conversion_rate),
        "topup_conversion_rate": decimal_text(entry.topup_conversion_rate),
        "idempotency_key": entry.idempotency_key,
        "parent_transaction_id": entry.parent_transaction_id,
        "environment_id": entry.environment_id,
        "tenant_id": None,
        "status": entry.status,
        "created_at": iso(entry.created_at),
        "updated_at": iso(entry.updated_at),
        "created_by": entry.created_by,
    }


def _balance(session: Any, wallet: Wallet) -> wallets.Balance:
    """The balance less the unpaid invoices and the usage accrued but not yet invoiced."""
    unpaid = invoices.unpaid_amount(
        session, wallet.environment_id, wallet.customer_id, wallet.currency
    )
    usage = accrued.accrued_usage(
        session, wallet.environment_id, wallet.customer_id, wallet.currency, utcnow()
    )
    return wallets.balance(session, wallet, unpaid_invoices=unpaid, current_period_usage=usage)


def _with_balances(session: Any, rows: list[Wallet]) -> list[dict[str, Any]]:
    """Each wallet with its balance (the unpaid invoices not read)."""
    return _rendered(session, [(w, wallets.balance(session, w)) for w in rows])


def _rendered(
    session: Any, pairs: list[tuple[Wallet, wallets.Balance | None]]
) -> list[dict[str, Any]]:
    """Each wallet with its balance (if read), its alert settings and the alert state its
    credit balance is in."""
    if not pairs:
        return []
    found = alerts.wallet_alerts(
        session,
        pairs[0][0].environment_id,
        {w.id: b.credit_balance if b else w.credit_balance for w, b in pairs},
    )
    return [wallet_out(w, b, found[w.id]) for w, b in pairs]


def _one(session: Any, wallet: Wallet) -> dict[str, Any]:
    return _rendered(session, [(wallet, None)])[0]


@router.post("/wallets", status_code=200)
def create_wallet(body: WalletIn, principal: Vendor, session: WriteSession) -> Response:
    expiry = body.initial_credits_expiry_date_utc or _yyyymmdd(
        body.initial_credits_to_load_expiry_date, "initial_credits_to_load_expiry_date"
    )
    wallet = wallets.create_wallet(
        session,
        principal,
        currency=body.currency,
        customer_id=body.customer_id,
        external_customer_id=body.external_customer_id,
        name=body.name,
        description=body.description,
        metadata=body.metadata,
        wallet_type=body.wallet_type,
        conversion_rate=body.conversion_rate,
        topup_conversion_rate=body.topup_conversion_rate,
        allowed_price_types=list(body.config.allowed_price_types or []) if body.config else None,
        initial_credits=body.initial_credits_to_load or Decimal(0),
        initial_credits_expiry=expiry,
        auto_topup_settings=body.auto_topup.settings() if body.auto_topup else None,
    )
    if body.alert_settings is not None:  # same transaction: refused settings write nothing
        alerts.put_wallet_setting(session, principal, wallet.id, body.alert_settings.config())
    return json_response(_one(session, wallet))


@router.get("/wallets")
def list_wallets(
    principal: Vendor,
    session: ReadSession,
    page: Page,
    customer_id: str | None = Query(default=None, max_length=64),
    wallet_status: str | None = Query(default=None, max_length=20),
) -> Response:
    rows, total = wallets.search_wallets(
        session,
        principal,
        limit=page.limit,
        offset=page.offset,
        customer_id=customer_id,
        wallet_status=wallet_status,
    )
    return list_response(_with_balances(session, rows), total, page)


@router.post("/wallets/search")
def search_wallets(body: WalletSearch, principal: VendorRead, session: ReadSession) -> Response:
    refuse_expand(body.expand)
    alerting = (
        alerts.wallets_with_enabled_alerts(session, principal)
        if body.alert_enabled is not None
        else None
    )
    # The SDK's WalletFilter names the wallet's state ``status`` (active, frozen, closed).
    rows, total = wallets.search_wallets(
        session,
        principal,
        limit=body.limit,
        offset=body.offset,
        wallet_ids=body.wallet_ids,
        customer_id=body.customer_id,
        wallet_status=body.wallet_status or body.status,
        sort=body.sort,
        order=body.order,
        within=alerting if body.alert_enabled else None,
        excluding=alerting if body.alert_enabled is False else None,
    )
    return list_response(_with_balances(session, rows), total, body)


@router.get("/wallets/{wallet_id}")
def get_wallet(wallet_id: str, principal: Vendor, session: ReadSession) -> Response:
    wallet = wallets.get_wallet(session, principal, wallet_id)
    return json_response(_rendered(session, [(wallet, wallets.balance(session, wallet))])[0])


@router.put("/wallets/{wallet_id}")
def update_wallet(
    wallet_id: str, body: WalletUpdate, principal: Vendor, session: WriteSession
) -> Response:
    wallet = wallets.update_wallet(
        session,
        principal,
        wallet_id,
        name=body.name,
        description=body.description,
        metadata=body.metadata,
        allowed_price_types=body.config.allowed_price_types if body.config else None,
        auto_topup=body.auto_topup.settings() if body.auto_topup else None,
    )
    if body.alert_settings is not None:
        alerts.put_wallet_setting(session, principal, wallet.id, body.alert_settings.config())
    return json_response(_one(session, wallet))


@router.post("/wallets/{wallet_id}/top-up")
def top_up_wallet(
    wallet_id: str, body: TopUpIn, principal: Vendor, session: WriteSession
) -> Response:
    expiry = body.expiry_date_utc or _yyyymmdd(body.expiry_date, "expiry_date")
    wallet, entry = wallets.top_up(
        session,
        principal,
        wallet_id,
        transaction_reason=body.transaction_reason,
        credits_to_add=body.credits_to_add,
        amount=body.amount,
        expiry=expiry,
        priority=body.priority,
        idempotency_key=body.idempotency_key,
        description=body.description,
        metadata=body.metadata,
    )
    return json_response(
        {
            "wallet_transaction": transaction_out(entry),
            "wallet": _one(session, wallet),
            "invoice_id": None,
        }
    )


@router.get("/wallets/{wallet_id}/transactions")
def wallet_transactions(
    wallet_id: str,
    principal: Vendor,
    session: ReadSession,
    page: Page,
    transaction_type: Literal["credit", "debit"] | None = Query(default=None, alias="type"),
    transaction_reason: str | None = Query(default=None, max_length=40),
    transaction_status: str | None = Query(default=None, max_length=20),
    reference_type: str | None = Query(default=None, max_length=40),
    reference_id: str | None = Query(default=None, max_length=255),
    created_by: str | None = Query(default=None, max_length=64),
    priority: int | None = Query(default=None, ge=0, le=1_000_000),
    credits_available_gt: money.Amount | None = None,
    expiry_date_after: OptionalInstant = None,
    expiry_date_before: OptionalInstant = None,
    start_time: OptionalInstant = None,
    end_time: OptionalInstant = None,
    status: Literal["published", "deleted", "archived"] | None = None,
    # The SDK sends the wallet id again as a query parameter ``id``.
    same_wallet_id: str | None = Query(default=None, alias="id", max_length=64),
    expand: str | None = Query(default=None, max_length=255),
    order: Literal["asc", "desc"] = "desc",
) -> Response:
    refuse_expand(expand)
    rows, total = wallets.transactions(
        session,
        principal,
        wallet_id,
        limit=page.limit,
        offset=page.offset,
        same_wallet_id=same_wallet_id,
        transaction_type=transaction_type,
        transaction_reason=transaction_reason,
        transaction_status=transaction_status,
        reference_type=reference_type,
        reference_id=reference_id,
        created_by=created_by,
        priority=priority,
        credits_available_gt=credits_available_gt,
        expiry_date_after=expiry_date_after,
        expiry_date_before=expiry_date_before,
        start_time=start_time,
        end_time=end_time,
        status=status,
        ascending=order == "asc",
    )
    return list_response([transaction_out(t) for t in rows], total, page)


@router.post("/wallets/transactions/search")
def search_wallet_transactions(
    body: WalletTransactionSearch, principal: VendorRead, session: ReadSession
) -> Response:
    refuse_expand(body.expand)
    rows, total = wallets.transactions(
        session,
        principal,
        None,
        limit=body.limit,
        offset=body.offset,
        sort=body.sort,
        same_wallet_id=body.id,
        transaction_type=body.type,
        transaction_reason=body.transaction_reason,
        transaction_status=body.transaction_status,
        reference_type=body.reference_type,
        reference_id=body.reference_id,
        created_by=body.created_by,
        priority=body.priority,
        credits_available_gt=body.credits_available_gt,
        expiry_date_after=body.expiry_date_after,
        expiry_date_before=body.expiry_date_before,
        start_time=body.start_time,
        end_time=body.end_time,
        status=body.status,
        ascending=body.order == "asc",
    )
    return list_response([transaction_out(t) for t in rows], total, body)


@router.post("/wallets/{wallet_id}/terminate")
def terminate_wallet(wallet_id: str, principal: Vendor, session: WriteSession) -> Response:
    # Upstream answers a message; the SDK reads a WalletResponse: send both.
    wallet = wallets.terminate(session, principal, wallet_id)
    return json_response({**_one(session, wallet), "message": "wallet terminated successfully"})


@router.get("/wallets/{wallet_id}/balance/real-time")
def wallet_balance(
    wallet_id: str, request: Request, principal: Vendor, session: ReadSession
) -> Response:
    refuse_query_params(request, ("expand",))
    wallet = wallets.get_wallet(session, principal, wallet_id)
    out = _rendered(session, [(wallet, _balance(session, wallet))])[0]
    out["balance_updated_at"] = iso(wallet.updated_at)
    return json_response(out)


@router.get("/customers/wallets")
def wallets_by_lookup(
    request: Request,
    principal: Vendor,
    session: ReadSession,
    customer_id: str | None = Query(default=None, alias="id", max_length=64),
    lookup_key: str | None = Query(default=None, max_length=255),
    include_real_time_balance: bool = False,
) -> Response:
    refuse_query_params(request, ("expand", "from_cache", "-"))
    rows = wallets.customer_wallets_by_lookup(
        session, principal, customer_id=customer_id, lookup_key=lookup_key
    )
    if include_real_time_balance:
        return json_response(_rendered(session, [(w, _balance(session, w)) for w in rows]))
    return json_response(_with_balances(session, rows))


@router.get("/customers/{customer_id}/wallets")
def customer_wallets(customer_id: str, principal: Vendor, session: ReadSession) -> Response:
    rows = wallets.customer_wallets(session, principal, customer_id)
    return json_response(_with_balances(session, rows))
