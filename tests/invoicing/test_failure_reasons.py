"""The reason a billing failure records: actionable, bounded, and never the SQL and its
parameters (they reach the API and webhooks)."""

from __future__ import annotations

from decimal import InvalidOperation

import pytest
from sqlalchemy.exc import DataError

from meterline.invoicing.failure_models import MAX_REASON
from meterline.invoicing.failures import describe
from meterline.kernel.errors import NotFound


class DriverError(Exception):
    pass


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (
            InvalidOperation([InvalidOperation]),
            "an amount is out of the range money arithmetic holds (InvalidOperation)",
        ),
        (
            DataError(
                "INSERT INTO invoices (total) VALUES (%(total)s)",
                {"total": "1e40"},
                DriverError("numeric field overflow\nDETAIL: precision 38, scale 12"),
            ),
            "the database refused the invoice (DriverError): numeric field overflow",
        ),
        (NotFound("customer", "cust_1"), "Customer with ID cust_1 was not found"),
        (ValueError("unknown billing_model 'X'"), "ValueError: unknown billing_model 'X'"),
    ],
)
def test_reasons(error: Exception, reason: str) -> None:
    assert describe(error) == reason


def test_a_reason_is_bounded() -> None:
    assert len(describe(ValueError("x" * 5000))) == MAX_REASON
