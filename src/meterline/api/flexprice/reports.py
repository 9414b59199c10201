"""/v1 analytics reports: the report catalog, a report run, an ad-hoc query and saved views.

Every answer is the SDK's ``AnalyticsQueryResult``: ``columns`` (name, role, type, and the
currency of the value column when the question keeps one currency), ``rows`` of strings and
``meta`` (``from``/``to``: the range's first midnight and the one after its last day,
``query_source``). The reports and their rules: analytics/report_catalog.py,
analytics/report_query.py and analytics/views.py.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import Field, StringConstraints
from starlette.responses import Response

from meterline.analytics import report_query, reports, views
from meterline.analytics.models import AnalyticsView
from meterline.analytics.report_catalog import CATALOG, DIMENSION_LABELS, MAX_ROWS, ReportSpec
from meterline.api.deps import ReadSession, Vendor, VendorRead, WriteSession
from meterline.api.flexprice.common import WireModel
from meterline.api.json import iso, json_response
from meterline.db.base import utcnow
from meterline.kernel.errors import InvalidRequest

router = APIRouter(tags=["analytics"])

Text = Annotated[str, StringConstraints(max_length=64)]


class ReportFilterIn(WireModel):
    """``ReportFilter`` (and ``AnalyticsFilter``, which adds ``optional``)."""

    field: str | None = Field(default=None, max_length=64)
    op: str | None = Field(default=None, max_length=20)
    value: list[Text] | None = Field(default=None, max_length=100)
    optional: bool | None = None


class ReportSortIn(WireModel):
    field: str | None = Field(default=None, max_length=64)
    direction: str | None = Field(default=None, alias="dir", max_length=10)


Dimensions = Field(default=None, max_length=6)
Filters = Field(default=None, max_length=10)
Sorts = Field(default=None, max_length=6)
Limit = Field(default=None, ge=1, le=MAX_ROWS)


class ReportQueryBody(WireModel):
    """``ReportQueryRequest``. ``compare`` is refused: Meterline runs no comparison period."""

    unsupported = frozenset({"compare"})

    span: str = Field(alias="range", min_length=1, max_length=40)
    shape: str = Field(max_length=20)
    grain: str | None = Field(default=None, max_length=20)
    currency: str | None = Field(default=None, min_length=3, max_length=3)
    dimensions: list[Text] | None = Dimensions
    filters: list[ReportFilterIn] | None = Filters
    sort: list[ReportSortIn] | None = Sorts
    limit: int | None = Limit


class TimeIn(WireModel):
    span: str | None = Field(default=None, alias="range", max_length=40)
    grain: str | None = Field(default=None, max_length=20)


class ViewDefinitionIn(WireModel):
    """``AnalyticsViewDefinition``; what each field means and what is refused:
    analytics/views.py."""

    metrics: list[Text] = Field(min_length=1, max_length=10)
    shape: str = Field(max_length=20)
    compare: str | None = Field(default=None, max_length=20)
    currency: str | None = Field(default=None, min_length=3, max_length=3)
    dimensions: list[Text] | None = Dimensions
    display: str | None = Field(default=None, max_length=20)
    family: str | None = Field(default=None, max_length=20)
    filters: list[ReportFilterIn] | None = Filters
    limit: int | None = Limit
    sort: list[ReportSortIn] | None = Sorts
    time: TimeIn | None = None
    variables: list[dict[str, Any]] | None = Field(default=None, max_length=20)

    def domain(self) -> views.ViewDefinition:
        window = self.time or TimeIn()
        return views.ViewDefinition(
            metrics=self.metrics,
            shape=self.shape,
            compare=self.compare,
            currency=self.currency,
            dimensions=self.dimensions or (),
            display=self.display,
            family=self.family,
            filters=[
                views.ViewFilter(f.field, f.op, f.value, bool(f.optional))
                for f in self.filters or ()
            ],
            limit=self.limit,
            sort=[report_query.SortInput(s.field, s.direction) for s in self.sort or ()],
            time_range=window.span,
            time_grain=window.grain,
            variables=len(self.variables or ()),
        )


class ViewIn(WireModel):
    """``CreateViewRequest``: creates a view, and replaces one's name and definition."""

    name: str = Field(min_length=1, max_length=255)
    definition: ViewDefinitionIn


Variables = dict[Annotated[str, StringConstraints(max_length=64)], list[Text]]


class ViewQueryBody(WireModel):
    """``ViewQueryRequest``: a view declares no variables, so none may be set."""

    unsupported = frozenset({"variables"})
    variables: Variables | None = None


class AnalyticsQueryBody(WireModel):
    """``AnalyticsQueryRequest``: a view definition run without saving it."""

    unsupported = frozenset({"variables"})
    definition: ViewDefinitionIn
    variables: Variables | None = None


def catalog_entry(spec: ReportSpec) -> dict[str, Any]:
    body: dict[str, Any] = {
        "key": spec.key,
        "name": spec.name,
        "description": spec.description,
        "category": spec.category,
        "kind": spec.kind,
        "value_type": spec.value_type,
        "improvement": spec.improvement,
        "shapes": list(spec.shapes),
        "default_shape": spec.default_shape,
        "grains": list(spec.grains),
        "dimensions": [{"key": d, "label": DIMENSION_LABELS[d]} for d in spec.dimensions],
        "max_range_days": spec.max_range_days,
        "supports_compare": False,
        "variant_of": spec.variant_of,
        "variant_label": spec.variant_label,
    }
    return {k: v for k, v in body.items() if v is not None}


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


def table_out(found: report_query.Table) -> dict[str, Any]:
    columns = [
        {"name": c.name, "role": c.role, "type": c.kind}
        | ({"currency": c.currency} if c.currency else {})
        for c in found.columns
    ]
    return {
        "columns": columns,
        "rows": found.rows,
        "meta": {
            "from": iso(_midnight(found.first)),
            "to": iso(_midnight(found.end)),
            "query_source": found.source,
        },
    }


def view_out(found: AnalyticsView) -> dict[str, Any]:
    body = {
        "id": found.id,
        "name": found.name,
        "definition": found.definition,
        "version": found.version,
        "created_by": found.created_by,
        "created_at": iso(found.created_at),
        "updated_at": iso(found.updated_at),
    }
    return {k: v for k, v in body.items() if v is not None}


@router.get("/analytics/reports", summary="The report catalog")
def list_reports(principal: Vendor) -> Response:
    return json_response({"items": [catalog_entry(spec) for spec in CATALOG]})


@router.post("/analytics/reports/{report_key}/query", summary="Run a report of the catalog")
def run_report(
    report_key: str, body: ReportQueryBody, principal: VendorRead, session: ReadSession
) -> Response:
    for i, given in enumerate(body.filters or ()):
        if given.optional:
            # A report filter has no ``optional`` (a view's does, for its variables).
            raise InvalidRequest(
                "a report filter is never optional", field=f"filters[{i}].optional"
            )
    now = utcnow()
    asked = report_query.ReportInput(
        span=body.span,
        shape=body.shape,
        grain=body.grain,
        currency=body.currency,
        dimensions=body.dimensions or (),
        filters=[report_query.FilterInput(f.field, f.op, f.value) for f in body.filters or ()],
        sort=[report_query.SortInput(s.field, s.direction) for s in body.sort or ()],
        limit=body.limit,
    )
    question = reports.checked(report_key, asked, now)
    return json_response(table_out(reports.run(session, principal, question, now)))


@router.post("/analytics/query", summary="Run a view definition without saving it")
def query_analytics(
    body: AnalyticsQueryBody, principal: VendorRead, session: ReadSession
) -> Response:
    now = utcnow()
    question = views.checked_definition(body.definition.domain(), now)
    return json_response(table_out(reports.run(session, principal, question, now)))


@router.get("/analytics/views", summary="List saved views")
def list_views(
    principal: Vendor,
    session: ReadSession,
    family: str | None = Query(default=None, max_length=20),
) -> Response:
    found = views.list_views(session, principal, family)
    return json_response({"items": [view_out(v) for v in found]})


@router.post("/analytics/views", status_code=201, summary="Save a view")
def create_view(body: ViewIn, principal: Vendor, session: WriteSession) -> Response:
    made = views.create_view(session, principal, body.name, body.definition.domain())
    return json_response(view_out(made), 201)


@router.get("/analytics/views/{view_id}", summary="Get a saved view")
def get_view(view_id: str, principal: Vendor, session: ReadSession) -> Response:
    return json_response(view_out(views.get_view(session, principal, view_id)))


@router.put("/analytics/views/{view_id}", summary="Replace a view's name and definition")
def update_view(view_id: str, body: ViewIn, principal: Vendor, session: WriteSession) -> Response:
    found = views.update_view(session, principal, view_id, body.name, body.definition.domain())
    return json_response(view_out(found))


@router.delete(
    "/analytics/views/{view_id}",
    status_code=204,
    response_class=Response,
    summary="Delete a saved view",
)
def delete_view(view_id: str, principal: Vendor, session: WriteSession) -> Response:
    views.delete_view(session, principal, view_id)
    return Response(status_code=204)


@router.post("/analytics/views/{view_id}/query", summary="Run a saved view")
def query_view(
    view_id: str,
    principal: VendorRead,
    session: ReadSession,
    body: ViewQueryBody | None = None,  # only refuses variables: a view declares none
) -> Response:
    now = utcnow()
    question = views.view_query(session, principal, view_id, now)
    return json_response(table_out(reports.run(session, principal, question, now)))
