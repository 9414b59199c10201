"""The report catalog: the fixed set of reports Meterline answers from what it keeps.

Each report is one reading of an existing aggregate, never a new one:

* the billing reports read the revenue facts of ``analytics/revenue.py`` (invoice lines,
  billed on the day their invoice was finalized, a draft's on the day it was created);
* ``mrr`` reads the live fixed charges as ``analytics/kpis.py`` counts them. Meterline keeps
  no history of MRR, so it is a snapshot of now: its range must include today.

Money never adds up across currencies, so every report is grouped by ``currency``.
"""

from __future__ import annotations

from dataclasses import dataclass

from meterline.analytics.revenue import MAX_DAYS, MAX_IDS

# Where a report's numbers come from.
REVENUE = "revenue"
MRR = "mrr"

SHAPES = ("timeseries", "breakdown", "scalar")
GRAINS = ("day", "week", "month")
MAX_ROWS = 1000
MAX_FILTER_VALUES = MAX_IDS

DIMENSION_LABELS = {
    "currency": "Currency",
    "revenue_source": "Revenue source (usage, fixed, one_off)",
    "customer_id": "Customer",
    "subscription_id": "Subscription",
    "price_id": "Price",
    "meter_id": "Meter",
}
_REVENUE_DIMENSIONS = tuple(DIMENSION_LABELS)


@dataclass(frozen=True)
class ReportSpec:
    key: str
    name: str
    description: str
    category: str
    kind: str
    value_type: str
    improvement: str
    shapes: tuple[str, ...]
    default_shape: str
    grains: tuple[str, ...]
    dimensions: tuple[str, ...]
    source: str
    # The revenue fact amount summed (``analytics.revenue``'s names), for REVENUE reports.
    amount: str | None = None
    # The revenue fact status kept (``FINAL``), or every status.
    status: str | None = None
    variant_of: str | None = None
    variant_label: str | None = None
    max_range_days: int = MAX_DAYS

    @property
    def filters(self) -> tuple[str, ...]:
        """The fields a filter may name: the report's dimensions."""
        return self.dimensions


_NET = (
    "What invoices bill after line and invoice discounts, before tax, on the UTC day each"
    " invoice was finalized (a draft's: created). Voided and skipped invoices are left out."
)

CATALOG: tuple[ReportSpec, ...] = (
    ReportSpec(
        key="net_billing",
        name="Net billing",
        description=_NET + " Draft and finalized invoices.",
        category="billing",
        kind="flow",
        value_type="money",
        improvement="higher",
        shapes=SHAPES,
        default_shape="timeseries",
        grains=GRAINS,
        dimensions=_REVENUE_DIMENSIONS,
        source=REVENUE,
        amount="net_amount",
    ),
    ReportSpec(
        key="net_billing_issued",
        name="Net billing (issued)",
        description=_NET + " Finalized invoices only.",
        category="billing",
        kind="flow",
        value_type="money",
        improvement="higher",
        shapes=SHAPES,
        default_shape="timeseries",
        grains=GRAINS,
        dimensions=_REVENUE_DIMENSIONS,
        source=REVENUE,
        amount="net_amount",
        status="FINAL",
        variant_of="net_billing",
        variant_label="Finalized invoices only",
    ),
    ReportSpec(
        key="gross_billing",
        name="Gross billing",
        description=(
            "The invoice lines' amounts before any discount and before tax, on the UTC day"
            " each invoice was finalized (a draft's: created). Voided and skipped invoices"
            " are left out."
        ),
        category="billing",
        kind="flow",
        value_type="money",
        improvement="higher",
        shapes=SHAPES,
        default_shape="timeseries",
        grains=GRAINS,
        dimensions=_REVENUE_DIMENSIONS,
        source=REVENUE,
        amount="usage_at_list_rate",
    ),
    ReportSpec(
        key="mrr",
        name="Monthly recurring revenue",
        description=(
            "The fixed charges live now on active subscriptions, each normalised to a month"
            " (an annual fee counts a twelfth); usage charges and trials are not recurring."
            " A snapshot of now: the range must include today."
        ),
        category="billing",
        kind="snapshot",
        value_type="money",
        improvement="higher",
        shapes=("scalar", "breakdown"),
        default_shape="scalar",
        grains=(),
        dimensions=("currency",),
        source=MRR,
    ),
)

REPORTS = {spec.key: spec for spec in CATALOG}
