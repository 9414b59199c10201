"""Tax rates through the official SDK: create, read, list with its filters, update, delete;
out-of-range percentages and duplicate codes are refused and change nothing."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import unique


def test_tax_rate_crud_and_refusals(fp: Any, http: httpx.Client) -> None:
    code = unique("VAT")
    vat = fp.tax_rates.create_tax_rate(
        code=code,
        name="VAT",
        description="Standard rate",
        percentage_value="20",
        tax_rate_type="percentage",
        scope="INTERNAL",
        metadata={"country": "FR"},
    )
    assert vat.id.startswith("taxrate_")
    assert (vat.percentage_value, vat.tax_rate_status, vat.scope) == ("20", "ACTIVE", "INTERNAL")
    reduced = fp.tax_rates.create_tax_rate(
        code=unique("RED"), name="Reduced", percentage_value="5.5", scope="EXTERNAL"
    )
    assert reduced.tax_rate_type == "percentage" and reduced.description is None
    got = fp.tax_rates.get_tax_rate(id=vat.id)
    assert (got.code, got.description, got.metadata) == (code, "Standard rate", {"country": "FR"})
    listed = fp.tax_rates.get_tax_rates(taxrate_ids=[vat.id, reduced.id])
    assert sorted(r.id for r in listed.items) == sorted([vat.id, reduced.id])
    assert [r.id for r in fp.tax_rates.get_tax_rates(taxrate_codes=[code]).items] == [vat.id]
    external = fp.tax_rates.get_tax_rates(taxrate_ids=[vat.id, reduced.id], scope="EXTERNAL")
    assert [r.id for r in external.items] == [reduced.id]

    new_code = unique("VAT2")
    updated = fp.tax_rates.update_tax_rate(
        id=vat.id,
        code=new_code,
        name="TVA",
        description="Taux normal",
        tax_rate_status="INACTIVE",
        metadata={"country": "FR", "v": "2"},
    )
    assert (updated.code, updated.name, updated.description) == (new_code, "TVA", "Taux normal")
    assert updated.tax_rate_status == "INACTIVE" and updated.percentage_value == "20"
    assert updated.metadata == {"country": "FR", "v": "2"}

    def refused(body: dict[str, Any], field: str, status: int = 400) -> None:
        response = http.post("/v1/taxes/rates", json={"code": unique("T"), "name": "T", **body})
        assert response.status_code == status, response.text
        assert field in str(response.json()), response.text

    refused({"percentage_value": "100.01"}, "percentage_value")
    refused({"percentage_value": "-1"}, "percentage_value")
    refused({}, "percentage_value")
    refused({"percentage_value": "1e40"}, "percentage_value")
    refused({"percentage_value": "5", "scope": "GLOBAL"}, "scope")
    refused({"percentage_value": "5", "tax_rate_type": "fixed"}, "tax_rate_type")
    refused({"percentage_value": "5", "code": new_code}, new_code, 409)
    clash = http.put(f"/v1/taxes/rates/{reduced.id}", json={"code": new_code})
    assert clash.status_code == 409
    bad_status = http.put(f"/v1/taxes/rates/{reduced.id}", json={"tax_rate_status": "ON"})
    assert bad_status.status_code == 400
    assert http.get(f"/v1/taxes/rates/{reduced.id}").json()["tax_rate_status"] == "ACTIVE"

    fp.tax_rates.delete_tax_rate(id=vat.id)
    assert fp.tax_rates.get_tax_rates(taxrate_ids=[vat.id]).items == []
    assert http.get(f"/v1/taxes/rates/{vat.id}").json()["status"] == "archived"
    assert http.delete(f"/v1/taxes/rates/{vat.id}").status_code == 400
    assert http.get("/v1/taxes/rates/taxrate_nope").status_code == 404
    # The deleted rate's code is free again.
    again = http.post(
        "/v1/taxes/rates", json={"code": new_code, "name": "T", "percentage_value": 1}
    )
    assert again.status_code == 201, again.text
