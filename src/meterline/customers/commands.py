"""Typed commands of the customer service, built by the API layer from its wire models.

Types and lengths are settled at the wire (which also upper-cases the country and
lower-cases the currency); the service checks values (required names, the time zone,
uniqueness). ``None`` means "not given"; an update changes only the fields not ``None``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class CustomerDetails:
    """The fields a customer has besides its identity (external id, name)."""

    email: str | None = None
    slug: str | None = None
    domain: str | None = None
    contact: str | None = None
    timezone: str | None = None
    billing_currency: str | None = None
    tax_treatment: str | None = None
    metadata: dict[str, str] | None = None
    address_line1: str | None = None
    address_line2: str | None = None
    address_city: str | None = None
    address_state: str | None = None
    address_postal_code: str | None = None
    address_country: str | None = None


@dataclass(frozen=True, kw_only=True)
class CreateCustomer(CustomerDetails):
    external_id: str
    name: str


@dataclass(frozen=True, kw_only=True)
class CustomerChanges(CustomerDetails):
    external_id: str | None = None
    name: str | None = None
