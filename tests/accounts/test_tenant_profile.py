"""The seller's profile through the SDK (``tenants.get_tenant_by_id`` / ``update_tenant``)
and on the invoice PDF. A separate organization, so that no other test's invoices change
seller while this one runs."""

from __future__ import annotations

import base64
import io
import zlib

import httpx
import pytest
from flexprice import Flexprice
from flexprice.models import errors as fp_errors
from pypdf import PdfReader

from tests.conftest import Server, unique
from tests.security.conftest import other_organization_key


def _png() -> str:
    """A 1×1 PNG, made here so that the test needs no image library."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return len(data).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")

    header = bytes.fromhex("00000001000000010802000000")
    raw = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
    raw += chunk(b"IDAT", zlib.compress(b"\x00\x35\x59\xe0")) + chunk(b"IEND", b"")
    return "data:image/png;base64," + base64.b64encode(raw).decode("ascii")


def _sdk(server: Server, key: str) -> Flexprice:
    return Flexprice(server_url=server.base_url + "/v1", api_key_auth=key, timeout_ms=30_000)


def test_the_tenant_profile_through_the_sdk_and_on_the_invoice_pdf(server: Server) -> None:
    key = other_organization_key(server)
    sdk = _sdk(server, key)
    tenant_id = sdk.users.get_user_info().tenant.id
    before = sdk.tenants.get_tenant_by_id(id=tenant_id)
    assert before.id == tenant_id and before.status == "active"

    logo = _png()
    updated = sdk.tenants.update_tenant(
        name="Acme Cloud",
        billing_details={
            "email": "billing@acme.example",
            "help_email": "help@acme.example",
            "phone": "+49 30 1234567",
            "address": {
                "address_line1": "Friedrichstr. 68",
                "address_city": "Berlin",
                "address_postal_code": "10117",
                "address_country": "DE",
            },
        },
        metadata={
            "legal_name": "Acme Cloud GmbH",
            "tax_ids": "eu_vat:DE123456789;de_hrb:HRB 98765",
            "payment_terms": "Net 30",
            "invoice_footer": "Acme Cloud GmbH, Amtsgericht Berlin HRB 98765",
            "logo": logo,
            "crm": "hubspot-42",
        },
    )
    assert updated.name == "Acme Cloud"
    assert updated.billing_details.email == "billing@acme.example"
    assert updated.billing_details.help_email == "help@acme.example"
    assert updated.billing_details.address.address_city == "Berlin"
    assert updated.metadata["legal_name"] == "Acme Cloud GmbH"
    assert updated.metadata["tax_ids"] == "eu_vat:DE123456789;de_hrb:HRB 98765"
    assert updated.metadata["logo"] == logo and updated.metadata["crm"] == "hubspot-42"
    again = sdk.tenants.get_tenant_by_id(id=tenant_id)
    assert again.model_dump() == updated.model_dump()

    # A part the update does not name stays as it was.
    renamed = sdk.tenants.update_tenant(name="Acme")
    assert renamed.name == "Acme" and renamed.metadata["payment_terms"] == "Net 30"
    assert renamed.billing_details.address.address_line1 == "Friedrichstr. 68"

    with httpx.Client(base_url=server.base_url, headers={"x-api-key": key}) as http:
        for metadata, field in (
            ({"tax_ids": "DE123"}, "metadata.tax_ids"),
            ({"logo": "data:text/html;base64,PGI+"}, "metadata.logo"),
            (
                {"logo": "data:image/png;base64," + base64.b64encode(b"GIF89a").decode()},
                "metadata.logo",
            ),
            ({"legal_name": "x" * 300}, "metadata.legal_name"),
            ({"logo": "data:image/png;base64," + "A" * 250_000}, "metadata.logo"),
        ):
            refused = http.put("/v1/tenants/update", json={"metadata": metadata})
            assert refused.status_code == 400, refused.text
            assert field in refused.text
        bad_email = http.put(
            "/v1/tenants/update", json={"billing_details": {"email": "not an email"}}
        )
        assert bad_email.status_code == 400 and "billing_details.email" in bad_email.text
        assert http.get("/v1/tenants/tenant_someone_else").status_code == 404

        read_only = http.post(
            "/v1/secrets/api/keys", json={"name": "ro", "scopes": ["read:*"]}
        ).json()["api_key"]
        assert _sdk(server, read_only).tenants.get_tenant_by_id(id=tenant_id).name == "Acme"
        with pytest.raises(fp_errors.FlexpriceError) as denied:
            _sdk(server, read_only).tenants.update_tenant(name="Mine now")
        assert denied.value.status_code == 403

        customer = http.post(
            "/v1/customers", json={"external_id": unique("buyer"), "name": "Buyer Ltd"}
        ).json()
        invoice = http.post(
            "/v1/invoices",
            json={
                "customer_id": customer["id"],
                "currency": "eur",
                "amount_due": "12",
                "subtotal": "12",
                "total": "12",
            },
        ).json()
        document = http.get(f"/v1/invoices/{invoice['id']}/pdf")
        assert document.status_code == 200, document.text

    reader = PdfReader(io.BytesIO(document.content))
    text = "\n".join(page.extract_text() for page in reader.pages)
    for expected in (
        "Acme Cloud GmbH",  # the legal name, not the display name
        "Friedrichstr. 68",
        "10117 Berlin",
        "billing@acme.example",
        "EU VAT: DE123456789",
        "Payment terms: Net 30",
        "Amtsgericht Berlin HRB 98765",
        "Questions: help@acme.example",
        "Buyer Ltd",
    ):
        assert expected in text, (expected, text)
    assert "Default organization" not in text
    assert reader.pages[0].images, "the logo is drawn on the first page"

    # Another organization never sees this one's profile.
    other = _sdk(server, server.bootstrap_key)
    with pytest.raises(fp_errors.FlexpriceError) as missing:
        other.tenants.get_tenant_by_id(id=tenant_id)
    assert missing.value.status_code == 404
