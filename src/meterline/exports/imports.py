"""Importing customers from CSV: every row validated, then every row applied, or none.

The file is read whole (an upload is bounded: :data:`MAX_IMPORT_ROWS` rows, and the body
limit in bytes). Each row is checked on its own (cells, lengths, time zone, currency,
country, an ``external_id`` that no earlier row of the file has); a file with any bad row
is refused with a 400 listing the rejected rows and why, and nothing is written. Rows are
then applied by ``external_id``: a new customer is created, an existing one is updated
with the cells that differ, and a row that matches its customer changes nothing, so the
same file imported twice changes nothing the second time. An empty cell means "not
given" (it neither sets nor clears). A row the customer rules still refuse while applying
(a slug another customer holds) refuses the whole file the same way: the transaction is
rolled back, so no row is ever half applied.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from meterline.accounts.principal import Principal
from meterline.customers import repository as customers_repository
from meterline.customers import service as customers
from meterline.customers.commands import CreateCustomer, CustomerChanges
from meterline.exports.formats import header_problem, read_csv
from meterline.kernel.errors import DomainError, InvalidRequest, PayloadTooLarge
from meterline.kernel.money import is_currency

MAX_IMPORT_ROWS = 10_000
MAX_REJECTED_LISTED = 100  # rows named in a refusal; the count covers every one
CUSTOMER_COLUMNS = (
    "external_id",
    "name",
    "email",
    "timezone",
    "billing_currency",
    "address_line1",
    "address_line2",
    "address_city",
    "address_state",
    "address_postal_code",
    "address_country",
)
LENGTHS = {"address_postal_code": 50, "address_country": 2, "billing_currency": 3}


@dataclass(frozen=True)
class Rejected:
    row: int  # the line of the row in the file (the header is line 1)
    field: str | None
    reason: str


@dataclass
class Outcome:
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    created_ids: list[str] = field(default_factory=list)

    def report(self) -> dict[str, Any]:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged}


def _refuse(rejected: list[Rejected]) -> InvalidRequest:
    listed = [
        {"row": r.row, "field": r.field, "reason": r.reason} for r in rejected[:MAX_REJECTED_LISTED]
    ]
    first = rejected[0]
    return InvalidRequest(
        f"{len(rejected)} row(s) of the file are invalid; nothing was imported"
        f" (row {first.row}: {first.reason})",
        field="upload_id",
        details={"rejected_count": len(rejected), "rejected_rows": listed},
    )


def _cell_problem(name: str, value: str) -> str | None:
    limit = LENGTHS.get(name, 255)
    if len(value) > limit:
        return f"{name} is longer than {limit} characters"
    if name == "email" and "@" not in value:
        return "email is not an email address"
    if name == "timezone":
        try:
            ZoneInfo(value)
        except (KeyError, ValueError):
            return "timezone must be an IANA time zone name"
    if name == "billing_currency" and not is_currency(value):
        return "billing_currency must be an ISO 4217 currency code"
    if name == "address_country" and not (len(value) == 2 and value.isalpha()):
        return "address_country must be an ISO 3166-1 alpha-2 code"
    return None


def _normal(name: str, value: str) -> str:
    if name == "billing_currency":
        return value.lower()
    if name == "address_country":
        return value.upper()
    return value


def parse_customers(text: str) -> list[tuple[int, dict[str, str]]]:
    """The rows of a customer CSV, each with its line and its given cells; raises the 400
    that names every rejected row (or 413 past :data:`MAX_IMPORT_ROWS`)."""
    try:
        header, reader = read_csv(text)
        problem = header_problem(header, CUSTOMER_COLUMNS, ("external_id", "name"))
        if problem is not None:
            raise InvalidRequest(f"the file's header is refused: {problem}", field="upload_id")
        rows: list[tuple[int, dict[str, str]]] = []
        rejected: list[Rejected] = []
        seen: dict[str, int] = {}
        for index, cells in enumerate(reader):
            line = index + 2
            if index >= MAX_IMPORT_ROWS:
                raise PayloadTooLarge(f"an import holds at most {MAX_IMPORT_ROWS} rows")
            if not any(c.strip() for c in cells):
                continue  # a blank line
            if len(cells) != len(header):
                rejected.append(
                    Rejected(line, None, f"has {len(cells)} cells, the header {len(header)}")
                )
                continue
            given = {n: c.strip() for n, c in zip(header, cells, strict=True) if c.strip()}
            bad = next(
                (
                    Rejected(line, n, why)
                    for n in CUSTOMER_COLUMNS
                    if n in given and (why := _cell_problem(n, given[n]))
                ),
                None,
            )
            if bad is None:
                for required in ("external_id", "name"):
                    if required not in given:
                        bad = Rejected(line, required, f"{required} is required")
                        break
            if bad is None and given["external_id"] in seen:
                bad = Rejected(
                    line,
                    "external_id",
                    f"external_id {given['external_id']!r} is already on row "
                    f"{seen[given['external_id']]} of this file",
                )
            if bad is not None:
                rejected.append(bad)
                continue
            seen[given["external_id"]] = line
            rows.append((line, {n: _normal(n, v) for n, v in given.items()}))
    except csv.Error as exc:
        raise InvalidRequest(f"the file is not valid CSV: {exc}", field="upload_id") from exc
    if rejected:
        raise _refuse(rejected)
    return rows


def import_customers(session: Session, principal: Principal, text: str) -> Outcome:
    """Applies every row of a customer CSV (module docstring); raises and writes nothing
    when a row is refused."""
    rows = parse_customers(text)
    outcome = Outcome(rows=len(rows))
    rejected: list[Rejected] = []
    for line, given in rows:
        try:
            _apply(session, principal, given, outcome)
        except DomainError as exc:
            rejected.append(Rejected(line, exc.details.get("field"), exc.message))
    if rejected:
        raise _refuse(rejected)
    return outcome


def _apply(session: Session, principal: Principal, given: dict[str, Any], out: Outcome) -> None:
    existing = customers_repository.by_external_id(
        session, principal.environment_id, given["external_id"]
    )
    if existing is None:
        created = customers.create_customer(session, principal, CreateCustomer(**given))
        out.created += 1
        out.created_ids.append(created.id)
        return
    changes: dict[str, Any] = {n: v for n, v in given.items() if getattr(existing, n) != v}
    if not changes:
        out.unchanged += 1
        return
    customers.update_customer(session, principal, existing.id, CustomerChanges(**changes))
    out.updated += 1
