"""The seller's profile of an organization (the SDK's ``tenants``): who its invoices, PDFs
and customer portal say they are from.

The SDK's ``update_tenant`` carries ``name``, ``billing_details`` (``email``,
``help_email``, ``phone``, ``address``) and ``metadata``; the rest of a seller's profile
travels in ``metadata`` under reserved keys, validated and kept in columns of their own
(:data:`PROFILE_KEYS`), and answered back in ``metadata`` the same way:

* ``legal_name`` — the registered name printed as the seller (the organization's ``name``
  when absent);
* ``tax_ids`` — ``TYPE:VALUE`` pairs separated by ``;`` (``eu_vat:DE123456789``);
* ``logo`` — a PNG or JPEG as a ``data:image/png;base64,…`` URL;
* ``invoice_footer`` — a line printed at the foot of every invoice;
* ``payment_terms`` — printed on invoices (``Net 30``).

An update replaces only what it names (a ``metadata`` map replaces the whole map, the
reserved keys it omits included, as a map does elsewhere on the SDK's surface).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy.orm import Session

from meterline.accounts import repository
from meterline.accounts.models import Organization, TenantProfile
from meterline.accounts.principal import Principal
from meterline.kernel.errors import InvalidRequest, NotFound, PermissionDenied

MAX_METADATA_ENTRIES = 50
MAX_METADATA_KEY = 100
MAX_METADATA_VALUE = 1000
MAX_LOGO_CHARS = 200_000  # ~146 KiB of image: a logo, not a photograph
MAX_TAX_IDS = 10
LOGO_TYPES = {"image/png": b"\x89PNG\r\n\x1a\n", "image/jpeg": b"\xff\xd8\xff"}
PROFILE_KEYS = ("legal_name", "tax_ids", "logo", "invoice_footer", "payment_terms")
ADDRESS_FIELDS = (
    "address_line1",
    "address_line2",
    "address_city",
    "address_state",
    "address_postal_code",
    "address_country",
)
# The longest value of each field (its column's size): checked here, as the dashboard's
# form reaches the service without the wire model's bounds.
FIELD_LIMITS = {
    "name": 255,
    "email": 255,
    "help_email": 255,
    "phone": 50,
    "address_line1": 255,
    "address_line2": 255,
    "address_city": 255,
    "address_state": 255,
    "address_postal_code": 50,
    "address_country": 100,
}
_TAX_TYPE = re.compile(r"^[a-z][a-z0-9_]{1,29}$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s]{1,60}$")


@dataclass(frozen=True)
class Seller:
    """What a document prints as its seller."""

    name: str
    lines: tuple[str, ...]  # address, email, phone, tax ids: ready to print
    logo: bytes | None
    logo_type: str | None
    footer: str | None
    payment_terms: str | None
    help_email: str | None


@dataclass(frozen=True)
class TenantUpdate:
    """An ``update_tenant`` request; ``None`` leaves a part as it is."""

    name: str | None = None
    email: str | None = None
    help_email: str | None = None
    phone: str | None = None
    address: Mapping[str, str | None] | None = None
    metadata: Mapping[str, str] | None = None


def get_tenant(
    session: Session, principal: Principal, tenant_id: str
) -> tuple[Organization, TenantProfile | None]:
    """The caller's own organization and its profile; another organization's is not found."""
    if tenant_id != principal.organization_id:
        raise NotFound("tenant", tenant_id)
    return own_tenant(session, principal.organization_id)


def own_tenant(session: Session, organization_id: str) -> tuple[Organization, TenantProfile | None]:
    organization = session.get(Organization, organization_id)
    if organization is None:
        raise NotFound("tenant", organization_id)
    return organization, repository.tenant_profile(session, organization_id)


def update_tenant(
    session: Session, principal: Principal, change: TenantUpdate
) -> tuple[Organization, TenantProfile]:
    """Changes the caller's organization's name and profile. The profile is the whole
    organization's, so only a key that may write billing in full (owner, admin) changes it."""
    if principal.is_customer_scoped or not principal.may("write", "billing"):
        raise PermissionDenied("Changing the tenant profile needs the write:billing scope")
    organization, profile = own_tenant(session, principal.organization_id)
    if profile is None:
        profile = TenantProfile(organization_id=organization.id, tax_ids=[], metadata_={})
        session.add(profile)
    if change.name is not None:
        name = _field(change.name, "name", "name")
        if not name:
            raise InvalidRequest("name cannot be empty", field="name")
        organization.name = name
    if change.email is not None:
        profile.email = _email(change.email, "email")
    if change.help_email is not None:
        profile.help_email = _email(change.help_email, "help_email")
    if change.phone is not None:
        profile.phone = _field(change.phone, "phone", "billing_details.phone")
    if change.address is not None:
        for name in ADDRESS_FIELDS:
            if name in change.address:
                wire = f"billing_details.address.{name}"
                setattr(profile, name, _field(change.address[name] or "", name, wire))
    if change.metadata is not None:
        _apply_metadata(profile, change.metadata)
    session.flush()
    return organization, profile


def _field(value: str, name: str, field: str) -> str | None:
    text = value.strip()
    if len(text) > FIELD_LIMITS[name]:
        raise InvalidRequest(f"{field} has at most {FIELD_LIMITS[name]} characters", field=field)
    return text or None


def _email(value: str, name: str) -> str | None:
    field = f"billing_details.{name}"
    value = _field(value, name, field) or ""
    if value and not _EMAIL.match(value):
        raise InvalidRequest(f"{field} is not an email address", field=field)
    return value or None


def _apply_metadata(profile: TenantProfile, metadata: Mapping[str, str]) -> None:
    if len(metadata) > MAX_METADATA_ENTRIES:
        raise InvalidRequest(
            f"metadata has at most {MAX_METADATA_ENTRIES} entries", field="metadata"
        )
    free: dict[str, str] = {}
    for key, value in metadata.items():
        if not key or len(key) > MAX_METADATA_KEY:
            raise InvalidRequest(
                f"metadata keys are 1 to {MAX_METADATA_KEY} characters", field="metadata"
            )
        if key != "logo" and len(value) > MAX_METADATA_VALUE:
            raise InvalidRequest(
                f"metadata.{key} has at most {MAX_METADATA_VALUE} characters",
                field=f"metadata.{key}",
            )
        if key not in PROFILE_KEYS:
            free[key] = value
    profile.legal_name = _bounded(metadata.get("legal_name"), 255, "legal_name")
    profile.invoice_footer = _bounded(metadata.get("invoice_footer"), 1000, "invoice_footer")
    profile.payment_terms = _bounded(metadata.get("payment_terms"), 255, "payment_terms")
    profile.tax_ids = parse_tax_ids(metadata.get("tax_ids") or "")
    logo = (metadata.get("logo") or "").strip()
    if logo:
        decode_logo(logo)  # refuses what is not a bounded PNG or JPEG
    profile.logo = logo or None
    profile.metadata_ = free


def _bounded(value: str | None, limit: int, key: str) -> str | None:
    text = (value or "").strip()
    if len(text) > limit:
        raise InvalidRequest(
            f"metadata.{key} has at most {limit} characters", field=f"metadata.{key}"
        )
    return text or None


def parse_tax_ids(text: str) -> list[dict[str, str]]:
    """``eu_vat:DE123;us_ein:12-3456789`` → ``[{"type": "eu_vat", "value": "DE123"}, …]``."""
    out: list[dict[str, str]] = []
    for part in (p.strip() for p in text.split(";")):
        if not part:
            continue
        kind, sep, value = part.partition(":")
        kind, value = kind.strip().lower(), value.strip()
        if not sep or not _TAX_TYPE.match(kind) or not 1 <= len(value) <= 64:
            raise InvalidRequest(
                "metadata.tax_ids is TYPE:VALUE pairs separated by ';' "
                "(TYPE: 2-30 lower-case letters, digits or _; VALUE: 1-64 characters)",
                field="metadata.tax_ids",
            )
        out.append({"type": kind, "value": value})
    if len(out) > MAX_TAX_IDS:
        raise InvalidRequest(
            f"metadata.tax_ids has at most {MAX_TAX_IDS} entries", field="metadata.tax_ids"
        )
    return out


def format_tax_ids(tax_ids: list[dict[str, str]]) -> str:
    return ";".join(f"{t['type']}:{t['value']}" for t in tax_ids)


def decode_logo(data_url: str) -> tuple[str, bytes]:
    """The media type and bytes of a ``data:image/png;base64,…`` logo, or a 400."""
    field = "metadata.logo"
    if len(data_url) > MAX_LOGO_CHARS:
        raise InvalidRequest(f"{field} has at most {MAX_LOGO_CHARS} characters", field=field)
    head, sep, payload = data_url.partition(",")
    media = head.removeprefix("data:").removesuffix(";base64")
    if not sep or not head.startswith("data:") or not head.endswith(";base64"):
        raise InvalidRequest(f"{field} must be a data:image/...;base64, URL", field=field)
    if media not in LOGO_TYPES:
        raise InvalidRequest(
            f"{field} must be a PNG or JPEG image",
            field=field,
            details={"allowed_values": list(LOGO_TYPES), "provided_value": media[:50]},
        )
    try:
        raw = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidRequest(f"{field} is not valid base64", field=field) from exc
    if not raw.startswith(LOGO_TYPES[media]):
        raise InvalidRequest(f"{field} is not a {media} image", field=field)
    return media, raw


def profile_metadata(profile: TenantProfile | None) -> dict[str, str]:
    """The profile as the SDK's ``metadata``: the free entries and the reserved keys set."""
    if profile is None:
        return {}
    out = dict(profile.metadata_ or {})
    for key, value in (
        ("legal_name", profile.legal_name),
        ("tax_ids", format_tax_ids(profile.tax_ids or []) or None),
        ("logo", profile.logo),
        ("invoice_footer", profile.invoice_footer),
        ("payment_terms", profile.payment_terms),
    ):
        if value:
            out[key] = value
    return out


def seller_of(organization: Organization, profile: TenantProfile | None) -> Seller:
    """What a document prints as the seller of ``organization``."""
    if profile is None:
        return Seller(organization.name, (), None, None, None, None, None)
    city = " ".join(p for p in (profile.address_postal_code, profile.address_city) if p)
    region = " ".join(p for p in (profile.address_state, profile.address_country) if p)
    lines = [part for part in (profile.address_line1, profile.address_line2, city, region) if part]
    lines += [p for p in (profile.email, profile.phone) if p]
    lines += [f"{t['type'].upper().replace('_', ' ')}: {t['value']}" for t in profile.tax_ids or []]
    logo_type, logo = None, None
    if profile.logo:
        try:
            logo_type, logo = decode_logo(profile.logo)
        except InvalidRequest:  # checked when stored; a bad one is left out, not fatal
            logo_type, logo = None, None
    return Seller(
        name=profile.legal_name or organization.name,
        lines=tuple(lines),
        logo=logo,
        logo_type=logo_type,
        footer=profile.invoice_footer,
        payment_terms=profile.payment_terms,
        help_email=profile.help_email or profile.email,
    )


def seller(session: Session, organization_id: str) -> Seller:
    organization, profile = own_tenant(session, organization_id)
    return seller_of(organization, profile)
