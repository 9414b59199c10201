"""Invoice documents: one invoice rendered as a PDF (fpdf2).

``render`` is pure (data in, bytes out); ``invoice_pdf`` gathers the invoice, its lines,
their prices, the customer and the seller's profile (accounts/tenants.py: legal name,
address, contact, tax ids, logo, payment terms, footer) in the caller's transaction and
renders them.

The document is the customer's copy: no internal ids, no internal status (the number, or
DRAFT, says what it is). A line of a TIERED price is followed by one line per tier it
reached (graduated, SLAB) or the tier its whole quantity falls in (VOLUME), each
``quantity × unit price (+ flat fee) = amount`` at full precision; the line's own amount is
their sum rounded once to the currency's minor units, as it was billed; a tier at no
price shows the included usage. A line of a PACKAGE price is followed by its packages
(``7 packages of 1,000 × $5.00``), the quantity rounded as the price says. Unit prices are
written at full precision everywhere (``$0.00105``), never rounded to cents.

Amounts are written in the invoice currency's format (Babel, ``en_US`` conventions: the
currency's symbol and its minor units — ``$1,234.50``, ``¥1,234``, ``KWD1.234``).
The document uses DejaVu Sans when the system has it (any script); otherwise the PDF core
font Helvetica, which can only show Latin-1, so other characters become ``?``.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Literal

from babel.numbers import format_currency, format_decimal
from fpdf import FPDF
from sqlalchemy.orm import Session

from meterline.accounts import tenants
from meterline.accounts.principal import Principal
from meterline.customers import service as customers
from meterline.customers.models import Customer
from meterline.invoicing import service as invoices
from meterline.invoicing.models import Invoice, InvoiceLineItem
from meterline.kernel.errors import NotFound
from meterline.kernel.money import MONEY_CONTEXT, minor_units, round_money
from meterline.pricing import prices as pricing
from meterline.pricing.charge_models import PricedRow, model_of_price
from meterline.pricing.charge_models.package import Package, packages
from meterline.pricing.charge_models.tiers import Tier, Tiered

# Digits a unit price may show past the currency's minor units (prices have 12 decimals).
PRICE_PLACES = 12
# The note an invoice carries when no tax was charged because of the customer's treatment.
TAX_NOTES = {
    "reverse_charge": "Reverse charge: no tax charged; the customer accounts for the tax.",
    "customer_exempt": "Tax exempt: no tax charged.",
}

FONT_CANDIDATES = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
    Path("/usr/share/fonts/dejavu/DejaVuSans.ttf"),
)


@dataclass(frozen=True)
class InvoiceDocument:
    vendor_name: str
    invoice: Invoice
    lines: Sequence[InvoiceLineItem]
    customer: Customer
    # The lines' prices by id, where they still exist: a TIERED line shows its tiers.
    prices: Mapping[str, PricedRow] = field(default_factory=dict)
    # The seller's profile; without one, the vendor's name alone.
    seller: tenants.Seller | None = None


@dataclass(frozen=True)
class TierLine:
    """One tier's part of a TIERED line: ``quantity × unit_amount + flat_amount``."""

    label: str
    quantity: Decimal
    unit_amount: Decimal
    flat_amount: Decimal

    @property
    def amount(self) -> Decimal:
        return MONEY_CONTEXT.add(
            MONEY_CONTEXT.multiply(self.quantity, self.unit_amount), self.flat_amount
        )


def _tier_label(index: int, lower: Decimal, upper: Decimal | None) -> str:
    if upper is None:
        return f"Tier {index + 1}: above {quantity_text(lower)}"
    return f"Tier {index + 1}: {quantity_text(lower + 1)} to {quantity_text(upper)}"


def _range(tier: Tier, lower: Decimal, in_tier: Decimal) -> Decimal | None:
    """The tier's upper bound as shown: none when the quantity ran past the last tier."""
    if tier.up_to is None or lower + in_tier > tier.up_to:
        return None
    return tier.up_to


def tier_lines(model: Tiered, quantity: Decimal) -> list[TierLine]:
    """The tiers ``quantity`` is priced over, and how much of it in each. Their amounts add
    up to the model's amount for ``quantity`` (``tests/invoicing/test_pdf_tiers.py`` holds
    them to it); a zero quantity costs nothing and has no tier."""
    if quantity <= 0 or not model.tiers:
        return []
    tiers = model.tiers
    if model.tier_mode == "VOLUME":
        # The first tier that holds the whole quantity; past the last bound, the last tier.
        index = next(
            (i for i, t in enumerate(tiers) if t.up_to is None or quantity <= t.up_to),
            len(tiers) - 1,
        )
        tier = tiers[index]
        lower = (tiers[index - 1].up_to or Decimal(0)) if index else Decimal(0)
        upper = None if tier.up_to is None or quantity > tier.up_to else tier.up_to
        label = _tier_label(index, lower, upper) + ", on every unit"
        return [TierLine(label, quantity, tier.unit_amount, tier.flat_amount)]
    lines: list[TierLine] = []
    lower, remaining = Decimal(0), quantity
    for index, tier in enumerate(tiers):
        last = tier.up_to is None or index == len(tiers) - 1
        in_tier = remaining if last or tier.up_to is None else min(remaining, tier.up_to - lower)
        label = _tier_label(index, lower, _range(tier, lower, in_tier))
        lines.append(TierLine(label, in_tier, tier.unit_amount, tier.flat_amount))
        remaining -= in_tier
        if remaining <= 0 or last or tier.up_to is None:
            break
        lower = tier.up_to
    return lines


def money(amount: Decimal, currency: str) -> str:
    """``amount`` in the currency's format: ``money(Decimal("1234.5"), "usd") == "$1,234.50"``."""
    # The pattern carries ISO 4217's minor units (Babel's own digits are CLDR's cash digits).
    places = minor_units(currency)
    pattern = "\u00a4#,##0" + ("." + "0" * places if places else "")
    return str(
        format_currency(
            amount, currency.upper(), format=pattern, locale="en_US", currency_digits=False
        )
    )


def unit_price(amount: Decimal, currency: str) -> str:
    """A unit price at full precision, at least the currency's minor units:
    ``unit_price(Decimal("0.00105"), "usd") == "$0.00105"``, ``unit_price(Decimal(2), "usd")
    == "$2.00"``."""
    places = minor_units(currency)
    pattern = "\u00a4#,##0." + "0" * places + "#" * PRICE_PLACES
    return str(
        format_currency(
            amount, currency.upper(), format=pattern, locale="en_US", currency_digits=False
        )
    )


def exact_money(amount: Decimal, currency: str) -> str:
    """An amount before the line's rounding: as :func:`unit_price`, every digit shown."""
    return unit_price(amount, currency)


def quantity_text(value: Decimal) -> str:
    """A quantity without trailing zeros, grouped: ``1500.000`` → ``1,500``."""
    normalized = value.normalize(MONEY_CONTEXT) if value != 0 else Decimal(0)
    places = max(0, -normalized.as_tuple().exponent)  # type: ignore[operator]
    pattern = "#,##0" + ("." + "#" * places if places else "")
    return str(format_decimal(normalized, format=pattern, locale="en_US"))


def _date(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d") if moment else "-"


class _Writer:
    """fpdf2 with a Unicode font when one is installed, Latin-1 Helvetica otherwise."""

    def __init__(self) -> None:
        self.pdf = FPDF(format="A4")
        self.pdf.set_auto_page_break(auto=True, margin=15)
        self.pdf.add_page()
        font = next((p for p in FONT_CANDIDATES if p.is_file()), None)
        if font is not None:
            self.pdf.add_font("body", "", str(font))
            bold = font.with_name("DejaVuSans-Bold.ttf")
            self.pdf.add_font("body", "B", str(bold if bold.is_file() else font))
            self.family, self.unicode = "body", True
        else:
            self.family, self.unicode = "Helvetica", False

    def text(self, value: str) -> str:
        if self.unicode:
            return value
        return value.encode("latin-1", "replace").decode("latin-1")

    def font(self, size: float, bold: bool = False) -> None:
        self.pdf.set_font(self.family, "B" if bold else "", size)

    def cell(
        self, width: float, value: str, align: str = "L", border: Literal[0, 1] | str = 0
    ) -> None:
        self.pdf.cell(width, 6, self.text(value), border=border, align=align)

    def line(self, value: str = "") -> None:
        self.pdf.cell(0, 6, self.text(value), new_x="LMARGIN", new_y="NEXT")


def render(document: InvoiceDocument) -> bytes:
    """The invoice as PDF bytes."""
    invoice, customer = document.invoice, document.customer
    currency = invoice.currency
    out = _Writer()
    pdf = out.pdf
    pdf.set_title(f"Invoice {invoice.invoice_number or 'DRAFT'}")
    pdf.set_creator("Meterline")

    seller = document.seller or tenants.Seller(
        document.vendor_name, (), None, None, None, None, None
    )
    if seller.logo is not None:
        # Top right, 18 mm high; an image fpdf2 cannot read is left out, not fatal.
        with contextlib.suppress(Exception):  # any decoder's error of a stored image
            pdf.image(io.BytesIO(seller.logo), x=150, y=10, h=18)
    out.font(20, bold=True)
    out.line("INVOICE")
    out.font(10)
    out.line(f"Number: {invoice.invoice_number or 'DRAFT'}")
    if invoice.invoice_status == "VOIDED":
        out.line("VOID: this invoice has been cancelled")
    out.line(f"Issue date: {_date(invoice.issue_date or invoice.created_at)}")
    out.line(f"Due date: {_date(invoice.due_date)}")
    if seller.payment_terms:
        out.line(f"Payment terms: {seller.payment_terms}")
    if invoice.period_start or invoice.period_end:
        out.line(f"Period: {_date(invoice.period_start)} to {_date(invoice.period_end)}")
    out.line(f"Currency: {currency.upper()}")
    pdf.ln(4)

    out.font(11, bold=True)
    out.cell(95, "From")
    out.cell(95, "Bill to")
    pdf.ln(6)
    out.font(10)
    address = [
        customer.address_line1,
        customer.address_line2,
        " ".join(p for p in (customer.address_postal_code, customer.address_city) if p),
        " ".join(p for p in (customer.address_state, customer.address_country) if p),
    ]
    bill_to = [customer.name, customer.external_id, customer.email or ""] + [
        part for part in address if part
    ]
    vendor = [seller.name, *seller.lines]
    for row in range(max(len(vendor), len(bill_to))):
        out.cell(95, vendor[row] if row < len(vendor) else "")
        out.cell(95, bill_to[row] if row < len(bill_to) else "")
        pdf.ln(6)
    pdf.ln(4)

    widths = (80, 30, 40, 40)
    out.font(10, bold=True)
    for width, title, align in zip(
        widths, ("Description", "Quantity", "Unit price", "Amount"), "LRRR", strict=True
    ):
        out.cell(width, title, align=align, border="B")
    pdf.ln(7)
    out.font(10)
    for item in document.lines:
        name = item.display_name or item.meter_display_name or item.plan_display_name or "Item"
        tiers = _parts_of(item, document.prices, currency)
        unit = (
            "-" if item.price_unit_amount is None else unit_price(item.price_unit_amount, currency)
        )
        if item.price_unit_amount is None and item.quantity and not tiers:
            unit = unit_price(_unit_of(item, document.prices, currency), currency)
        if tiers:
            price = document.prices.get(item.price_id or "")
            packaged = price is not None and price.billing_model == Package.billing_model
            unit = "packaged" if packaged else "tiered"
        out.cell(widths[0], name[:48])
        out.cell(widths[1], quantity_text(item.quantity), align="R")
        out.cell(widths[2], unit, align="R")
        out.cell(widths[3], money(item.amount, currency), align="R")
        pdf.ln(6)
        out.font(8)
        for tier in tiers:
            out.cell(widths[0], f"  {tier.label}")
            out.cell(widths[1], quantity_text(tier.quantity), align="R")
            out.cell(widths[2], unit_price(tier.unit_amount, currency), align="R")
            out.cell(widths[3], exact_money(tier.quantity * tier.unit_amount, currency), align="R")
            pdf.ln(5)
            if tier.flat_amount:
                out.cell(widths[0], f"  {tier.label.split(':')[0]} flat fee")
                out.cell(widths[1], "1", align="R")
                out.cell(widths[2], unit_price(tier.flat_amount, currency), align="R")
                out.cell(widths[3], exact_money(tier.flat_amount, currency), align="R")
                pdf.ln(5)
        out.font(10)
        if item.period_start and item.period_end:
            out.font(8)
            out.cell(widths[0], f"  {_date(item.period_start)} to {_date(item.period_end)}")
            pdf.ln(5)
            out.font(10)
    pdf.ln(4)

    totals = [
        ("Subtotal", invoice.subtotal),
        ("Discount", -invoice.total_discount),
        ("Credits applied", -invoice.total_prepaid_credits_applied),
        ("Tax", invoice.total_tax - invoice.inclusive_tax),
        ("Total", invoice.total),
        ("Amount paid", invoice.amount_paid),
        ("Amount due", invoice.amount_remaining),
    ]
    if invoice.inclusive_tax:
        # The subtotal is net of it: the rows still add up to the total.
        totals.insert(4, ("Tax included in prices", invoice.inclusive_tax))
    for label, amount in totals:
        bold = label in ("Total", "Amount due")
        out.font(10, bold=bold)
        out.cell(sum(widths[:3]), label, align="R")
        out.cell(widths[3], money(amount, currency), align="R")
        pdf.ln(6)
    note = TAX_NOTES.get(invoice.tax_exemption_reason_code or "")
    if note:
        pdf.ln(4)
        out.font(9, bold=True)
        pdf.multi_cell(0, 5, out.text(note))
    if invoice.description:
        pdf.ln(4)
        out.font(9)
        pdf.multi_cell(0, 5, out.text(invoice.description[:2000]))
    if seller.footer or seller.help_email:
        pdf.ln(6)
        out.font(8)
        footer = [
            seller.footer or "",
            f"Questions: {seller.help_email}" if seller.help_email else "",
        ]
        pdf.multi_cell(0, 4, out.text("\n".join(p for p in footer if p)))
    return bytes(pdf.output())


def _unit_of(item: InvoiceLineItem, prices: Mapping[str, PricedRow], currency: str) -> Decimal:
    """A usage line's unit price: its FLAT_FEE price's own amount when the line is that
    amount per unit rounded once (``6,789.5 × $0.0031 = $21.05``); otherwise (prorated,
    partly covered) what the line's amount works out to per unit."""
    price = prices.get(item.price_id or "")
    if price is not None and price.billing_model == "FLAT_FEE":
        exact = MONEY_CONTEXT.multiply(item.quantity, price.amount)
        if round_money(exact, minor_units(currency)) == item.amount:
            return price.amount
    per_unit = MONEY_CONTEXT.divide(item.amount, item.quantity)
    return per_unit.quantize(Decimal(1).scaleb(-PRICE_PLACES))


def _parts_of(
    item: InvoiceLineItem, prices: Mapping[str, PricedRow], currency: str
) -> list[TierLine]:
    """The lines under a line that show how its amount was reached: a TIERED price's tiers,
    or a PACKAGE price's packages (``7 packages of 1,000 × $5.00``); none for the others."""
    price = prices.get(item.price_id or "")
    if price is None or price.billing_model not in (Tiered.billing_model, Package.billing_model):
        return []
    try:
        model = model_of_price(price)
    except ValueError:  # a tier mode this build does not know: the line alone
        return []
    if isinstance(model, Package):
        count = packages(item.quantity, model.divide_by, model.round)
        if count <= 0 or MONEY_CONTEXT.multiply(count, model.package_amount) != item.amount:
            return []  # prorated or partly covered: the line alone
        label = f"{quantity_text(count)} packages of {quantity_text(Decimal(model.divide_by))}"
        return [TierLine(label, count, model.package_amount, Decimal(0))]
    if not isinstance(model, Tiered):
        return []
    tiers = tier_lines(model, item.quantity)
    billed = round_money(sum((t.amount for t in tiers), Decimal(0)), minor_units(currency))
    # Rows that do not add up to the line are not shown: a bucketed meter's line is priced
    # bucket by bucket, not over its whole quantity, and a prorated one is scaled.
    return tiers if billed == item.amount else []


def invoice_pdf(session: Session, principal: Principal, invoice_id: str) -> tuple[Invoice, bytes]:
    """The caller's invoice ``invoice_id`` as a PDF; NotFound for another environment's."""
    invoice = invoices.get_invoice(session, principal, invoice_id)
    lines = invoices.lines_of(session, [invoice])[invoice.id]
    customer = customers.get_customer(session, principal, invoice.customer_id)
    seller = tenants.seller(session, principal.organization_id)
    prices: dict[str, PricedRow] = {}
    for price_id in sorted({line.price_id for line in lines if line.price_id}):
        try:
            prices[price_id] = pricing.get_price(session, principal, price_id)
        except NotFound:  # deleted since: the line shows without its tiers
            continue
    document = InvoiceDocument(
        vendor_name=seller.name,
        invoice=invoice,
        lines=lines,
        customer=customer,
        prices=prices,
        seller=seller,
    )
    return invoice, render(document)
