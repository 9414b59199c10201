"""Saved analytics views: a name and a definition that asks one catalog report a question.

A definition (the SDK's ``AnalyticsViewDefinition``) names its report in ``metrics`` (exactly
one catalog key) and asks it with ``shape``, ``time.range`` (``last_30_days`` when absent),
``time.grain``, ``dimensions``, ``filters`` (``eq``/``in``), ``sort``, ``limit`` and
``currency``, checked as a report query is (``analytics/report_query.py``); ``display``
(``chart`` or ``table``) is kept for the client. It is checked when saved and again when run
(a relative range moves with the day). Meterline's views are all of the ``report`` family;
``compare``, ``variables`` and optional filters are refused by name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from meterline.accounts.principal import Principal
from meterline.analytics import repository
from meterline.analytics.models import AnalyticsView
from meterline.analytics.report_catalog import REPORTS
from meterline.analytics.report_query import FilterInput, ReportInput, ReportQuery, SortInput
from meterline.analytics.reports import checked
from meterline.db.base import new_id, utcnow
from meterline.db.rows import existing
from meterline.kernel.errors import InvalidOperation, InvalidRequest

FAMILY = "report"
FAMILIES = ("usage", "billing", "report")
DISPLAYS = ("chart", "table")
DEFAULT_RANGE = "last_30_days"
MAX_VIEWS = 500


@dataclass(frozen=True)
class ViewFilter:
    field: str | None
    op: str | None
    value: Sequence[str] | None
    optional: bool = False


@dataclass(frozen=True)
class ViewDefinition:
    metrics: Sequence[str]
    shape: str
    compare: str | None = None
    currency: str | None = None
    dimensions: Sequence[str] = ()
    display: str | None = None
    family: str | None = None
    filters: Sequence[ViewFilter] = ()
    limit: int | None = None
    sort: Sequence[SortInput] = ()
    time_range: str | None = None
    time_grain: str | None = None
    variables: int = 0  # how many the client declared


def _in_definition(name: str) -> str:
    if name in ("range", "grain"):
        return f"definition.time.{name}"
    return f"definition.{name}"


def _refusals(d: ViewDefinition) -> str:
    """The report key of ``d`` once what Meterline's views cannot hold is refused."""
    if d.variables:
        raise InvalidRequest("views take no variables", field="definition.variables")
    if d.compare:
        raise InvalidRequest("compare is not supported", field="definition.compare")
    if d.family not in (None, FAMILY):
        raise InvalidRequest(
            "Meterline's views are report views: family must be report",
            field="definition.family",
            details={"allowed_values": [FAMILY], "provided_value": d.family},
        )
    if d.display not in (None, *DISPLAYS):
        raise InvalidRequest("display must be chart or table", field="definition.display")
    for i, given in enumerate(d.filters):
        if given.optional:
            raise InvalidRequest(
                "optional filters need variables, which views do not take",
                field=f"definition.filters[{i}].optional",
            )
    if len(d.metrics) != 1:
        raise InvalidRequest(
            "metrics names exactly one report of the catalog", field="definition.metrics"
        )
    [key] = d.metrics
    if key not in REPORTS:
        raise InvalidRequest(
            f"metrics names no report of the catalog: {key}",
            field="definition.metrics[0]",
            details={"allowed_values": sorted(REPORTS), "provided_value": key},
        )
    return key


def checked_definition(d: ViewDefinition, now: datetime) -> ReportQuery:
    """The report question ``d`` asks, checked; a refusal names ``definition.<field>``."""
    key = _refusals(d)
    asked = ReportInput(
        span=d.time_range or DEFAULT_RANGE,
        shape=d.shape,
        grain=d.time_grain,
        currency=d.currency,
        dimensions=d.dimensions,
        filters=[FilterInput(f.field, f.op, f.value) for f in d.filters],
        sort=d.sort,
        limit=d.limit,
        where=_in_definition,
    )
    return checked(key, asked, now)


def definition_json(d: ViewDefinition) -> dict[str, Any]:
    """``d`` as stored and rendered: what the client sent, with the defaults it implies."""
    time = {"range": d.time_range or DEFAULT_RANGE, "grain": d.time_grain}
    body: dict[str, Any] = {
        "metrics": list(d.metrics),
        "shape": d.shape,
        "family": FAMILY,
        "time": {k: v for k, v in time.items() if v is not None},
        "dimensions": list(d.dimensions) or None,
        "filters": [
            {"field": f.field, "op": f.op or "in", "value": list(f.value or ())} for f in d.filters
        ]
        or None,
        "sort": [{"field": s.field, "dir": s.direction or "asc"} for s in d.sort] or None,
        "limit": d.limit,
        "currency": d.currency,
        "display": d.display,
    }
    return {k: v for k, v in body.items() if v is not None}


def definition_of(stored: dict[str, Any]) -> ViewDefinition:
    """The definition a view stored (``definition_json``)."""
    time = stored.get("time") or {}
    return ViewDefinition(
        metrics=stored["metrics"],
        shape=stored["shape"],
        currency=stored.get("currency"),
        dimensions=stored.get("dimensions") or (),
        display=stored.get("display"),
        family=stored.get("family"),
        filters=[ViewFilter(f["field"], f["op"], f["value"]) for f in stored.get("filters") or ()],
        limit=stored.get("limit"),
        sort=[SortInput(s["field"], s["dir"]) for s in stored.get("sort") or ()],
        time_range=time.get("range"),
        time_grain=time.get("grain"),
    )


def _name(value: str) -> str:
    name = value.strip()
    if not name:
        raise InvalidRequest("name must not be empty", field="name")
    return name


def create_view(
    session: Session, principal: Principal, name: str, d: ViewDefinition
) -> AnalyticsView:
    checked_definition(d, utcnow())
    env = principal.environment_id
    if repository.count(session, env) >= MAX_VIEWS:
        raise InvalidOperation(f"an environment holds at most {MAX_VIEWS} views")
    made = AnalyticsView(
        id=new_id("view"),
        environment_id=env,
        name=_name(name),
        family=FAMILY,
        definition=definition_json(d),
        version=1,
        created_by=principal.user_id,
    )
    session.add(made)
    session.flush()
    return made


def get_view(session: Session, principal: Principal, view_id: str) -> AnalyticsView:
    found = repository.view(session, principal.environment_id, view_id)
    return existing(found, "view", view_id)


def list_views(session: Session, principal: Principal, family: str | None) -> list[AnalyticsView]:
    if family is not None and family not in FAMILIES:
        raise InvalidRequest(
            f"family must be one of {', '.join(FAMILIES)}",
            field="family",
            details={"allowed_values": list(FAMILIES), "provided_value": family},
        )
    return repository.views(session, principal.environment_id, family)


def update_view(
    session: Session, principal: Principal, view_id: str, name: str, d: ViewDefinition
) -> AnalyticsView:
    """Replace the view's name and definition; its version counts the changes."""
    found = get_view(session, principal, view_id)
    checked_definition(d, utcnow())
    found.name = _name(name)
    found.definition = definition_json(d)
    found.version += 1
    found.updated_at = utcnow()
    session.flush()
    return found


def delete_view(session: Session, principal: Principal, view_id: str) -> None:
    session.delete(get_view(session, principal, view_id))
    session.flush()


def view_query(session: Session, principal: Principal, view_id: str, now: datetime) -> ReportQuery:
    """The question the saved view asks today."""
    found = get_view(session, principal, view_id)
    return checked_definition(definition_of(found.definition), now)
