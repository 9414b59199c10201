"""Invoice numbers: ``INV-YYYYMM-NNNNN``, a sequence per environment and UTC month of
finalization (the billing clock takes a block of them for its batch)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from meterline.invoicing import repository
from meterline.invoicing.models import Invoice

NUMBER_PREFIX = "INV"


def next_number(session: Session, invoice: Invoice, at: datetime) -> str:
    """The next number of ``invoice``'s environment in the numbering period of ``at``."""
    period = number_period(at)
    return format_number(period, repository.next_number(session, invoice.environment_id, period))


def number_period(at: datetime) -> str:
    """The numbering period (``YYYYMM``, UTC) of an invoice finalized at ``at``."""
    return at.strftime("%Y%m")


def format_number(period: str, sequence: int) -> str:
    return f"{NUMBER_PREFIX}-{period}-{sequence:05d}"
