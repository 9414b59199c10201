"""The UUID form of Meterline's ids on /api, both ways."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from meterline.api.kaiten.ids import stored_id, wire_id
from meterline.db.base import new_id


def test_a_stored_id_renders_as_a_uuid_and_maps_back() -> None:
    stored = new_id("cust")
    rendered = wire_id(stored)
    assert rendered is not None and str(uuid.UUID(rendered)) == rendered
    assert stored_id(rendered, "cust") == stored
    assert stored_id(rendered.replace("-", ""), "cust") == stored
    assert stored_id(stored, "cust") == stored


def test_ids_of_another_form_or_resource_are_not_found() -> None:
    assert stored_id(new_id("lic"), "cust") is None
    assert stored_id("not-an-id", "cust") is None
    assert stored_id("cust_123", "cust") is None
    assert stored_id("{" + str(uuid.uuid4()) + "}", "cust") is None
    assert wire_id(None) is None
    assert wire_id("plain-slug") == "plain-slug"


@given(st.uuids())
def test_every_uuid_round_trips(value: uuid.UUID) -> None:
    stored = stored_id(str(value), "lic")
    assert stored is not None and stored.startswith("lic_")
    assert wire_id(stored) == str(value)
