"""Feature flags through the official SDK; the OpenFeature manifest read by the
``openfeature-sdk`` through a small provider written here; targeting evaluated per instance
and customer from their license (OFREP), on every backend."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from kaitencloud import (
    AsyncKaitenClient,
    ConflictError,
    KaitenClient,
    NotFoundError,
    UnprocessableEntityError,
    targeting,
)
from openfeature import api as openfeature
from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import FlagResolutionDetails, FlagValueType, Reason
from openfeature.provider import AbstractProvider, Metadata

from tests.api.kaiten.conftest import mint_key
from tests.conftest import Tenant, new_tenant

START = datetime(2026, 1, 1, tzinfo=UTC)
END = datetime(2036, 1, 1, tzinfo=UTC)
ON_OFF = [targeting.variant("on", True), targeting.variant("off", False)]


def test_flag_crud(kaiten: KaitenClient) -> None:
    assert kaiten.feature_flags.list() == []
    created = kaiten.feature_flags.create(
        name="New checkout",
        type="boolean",
        variants=ON_OFF,
        default_variant="off",
        targetings=[
            targeting.rule("Growth plan", "__kaiten.license.familySlug == 'growth'", "on"),
            targeting.split_rule("Everyone else", "true", {"on": 20, "off": 80}),
        ],
        description="The new checkout page",
        metadata={"team": "payments"},
        event_name="checkout_viewed",
    )
    assert created.slug == "new-checkout"
    assert len(created.id) == 36  # a UUID on the wire
    assert (created.name, created.type, created.enabled) == ("New checkout", "boolean", True)
    assert created.description == "The new checkout page"
    assert created.metadata == {"team": "payments"}
    assert created.event_name == "checkout_viewed"
    assert [(v.name, v.value) for v in created.variants or []] == [("on", True), ("off", False)]
    assert created.default_variant.type == "basic"
    rules = created.targetings or []
    assert [r.type for r in rules] == ["basic", "rollout_percentage"]
    assert rules[0].rule == "__kaiten.license.familySlug == 'growth'"
    assert getattr(rules[1], "distribution", None) == {"on": 20, "off": 80}

    banner = kaiten.feature_flags.create(
        name="Banner",
        type="string",
        slug="banner",
        variants=[targeting.variant("a", "Hello"), targeting.variant("b", "Bonjour")],
        default_variant=targeting.schedule(
            start=targeting.step("a", 100, "2026-01-01T00:00:00Z"),
            end=targeting.step("b", 100, "2026-02-01T00:00:00Z"),
        ),
        enabled=False,
    )
    assert banner.default_variant.type == "rollout_date"
    assert banner.description is None and banner.enabled is False
    assert [f.slug for f in kaiten.feature_flags.list()] == ["new-checkout", "banner"]

    kaiten.feature_flags.update(
        "new-checkout",
        name="Checkout v2",
        type="boolean",
        variants=ON_OFF,
        default_variant=targeting.split({"on": 50, "off": 50}),
    )
    again = kaiten.feature_flags.get("new-checkout")
    assert (again.id, again.name, again.slug) == (created.id, "Checkout v2", "new-checkout")
    # A full replacement: what was not sent is cleared.
    assert again.targetings == [] and again.metadata == {} and again.description is None
    assert again.event_name == "" and again.default_variant.type == "rollout_percentage"

    with pytest.raises(ConflictError):
        kaiten.feature_flags.create(
            name="dup", slug="banner", type="boolean", variants=ON_OFF, default_variant="on"
        )
    kaiten.feature_flags.delete("banner")
    with pytest.raises(NotFoundError):
        kaiten.feature_flags.get("banner")
    with pytest.raises(NotFoundError):
        kaiten.feature_flags.delete("banner")
    with pytest.raises(NotFoundError):
        kaiten.feature_flags.update(
            "banner", name="n", type="boolean", variants=ON_OFF, default_variant="on"
        )


def test_flag_list_pages(api: httpx.Client, kaiten: KaitenClient) -> None:
    for i in range(3):
        kaiten.feature_flags.create(
            name=f"Flag {i}", type="boolean", variants=ON_OFF, default_variant="on"
        )
    page = api.get("/feature-flags", params={"limit": 2}).json()
    assert [f["slug"] for f in page["items"]] == ["flag-0", "flag-1"]
    assert page["hasMore"] is True
    rest = api.get("/feature-flags", params={"limit": 2, "cursor": page["nextCursor"]}).json()
    assert [f["slug"] for f in rest["items"]] == ["flag-2"] and rest["hasMore"] is False
    assert len(kaiten.feature_flags.list()) == 3


@pytest.mark.parametrize(
    ("overrides", "location"),
    [
        ({"type": "colour"}, "body.type"),
        ({"variants": [{"name": "on", "value": "yes", "description": ""}]}, "variants[0].value"),
        (
            {
                "variants": [
                    {"name": "on", "value": True, "description": ""},
                    {"name": "on", "value": False, "description": ""},
                ]
            },
            "variants[1].name",
        ),
        ({"variants": []}, "body.variants"),
        ({"default_variant": {"type": "basic", "value": "maybe"}}, "default_variant"),
        ({"default_variant": {"type": "sometimes"}}, "body.default_variant"),
        (
            {"default_variant": {"type": "basic", "value": "on", "distribution": {"on": 1}}},
            "body.default_variant.basic.distribution",
        ),
        (
            {"default_variant": {"type": "rollout_percentage", "distribution": {"on": 0}}},
            "body.default_variant.rollout_percentage.distribution.on",
        ),
        (
            {
                "default_variant": {
                    "type": "rollout_date",
                    "start": {"variant": "off", "percentage": 100, "date": "2026-03-01T00:00:00Z"},
                    "end": {"variant": "on", "percentage": 100, "date": "2026-02-01T00:00:00Z"},
                }
            },
            "default_variant.end.date",
        ),
        (
            {
                "default_variant": {
                    "type": "rollout_date",
                    "start": {"variant": "off", "percentage": 101, "date": "2026-01-01T00:00:00Z"},
                    "end": {"variant": "on", "percentage": 100, "date": "2026-02-01T00:00:00Z"},
                }
            },
            "body.default_variant.rollout_date.start.percentage",
        ),
        (
            {"targetings": [{"type": "basic", "name": "r", "rule": "1 +", "variant": "on"}]},
            "targetings[0].rule",
        ),
        (
            {"targetings": [{"type": "basic", "name": "r", "rule": "true", "variant": "nope"}]},
            "targetings[0]",
        ),
        ({"enabled": "yes"}, "body.enabled"),
        ({"name": "x" * 256}, "body.name"),
        ({"slug": "Not A Slug"}, "body.slug"),
        ({"colour": "red"}, "body.colour"),
    ],
)
def test_bad_flags_are_refused_by_name(
    api: httpx.Client, overrides: dict[str, Any], location: str
) -> None:
    body: dict[str, Any] = {
        "name": "Bad",
        "type": "boolean",
        "variants": [
            {"name": "on", "value": True, "description": ""},
            {"name": "off", "value": False, "description": ""},
        ],
        "default_variant": {"type": "basic", "value": "off"},
        "targetings": [],
        "enabled": True,
        "metadata": {},
        "event_name": "",
        **overrides,
    }
    refused = api.post("/feature-flags", json=body)
    assert refused.status_code == 422, refused.text
    found = [e["location"] for e in refused.json().get("errors", [])]
    assert any(location in f for f in found), (location, refused.json())
    assert api.get("/feature-flags").json()["items"] == []


def test_bad_flag_refused_through_the_sdk(kaiten: KaitenClient) -> None:
    with pytest.raises(UnprocessableEntityError) as bad:
        kaiten.feature_flags.create(
            name="Bad", type="number", variants=ON_OFF, default_variant="on"
        )
    assert "variants[0].value" in str(bad.value.problem)


def test_another_tenant_sees_no_flag(kaiten: KaitenClient, tenant: Tenant) -> None:
    kaiten.feature_flags.create(
        name="Mine", slug="mine", type="boolean", variants=ON_OFF, default_variant="on"
    )
    other = new_tenant(tenant.server)
    with KaitenClient(base_url=other.server.base_url, token=other.key, max_retries=0) as them:
        assert them.feature_flags.list() == []
        assert them.feature_flags.manifest() == []
        with pytest.raises(NotFoundError):
            them.feature_flags.get("mine")
        with pytest.raises(NotFoundError):
            them.feature_flags.delete("mine")
        with pytest.raises(NotFoundError):
            them.feature_flags.update(
                "mine", name="x", type="boolean", variants=ON_OFF, default_variant="off"
            )
        # Their own flag of the same slug is theirs alone.
        them.feature_flags.create(
            name="Theirs", slug="mine", type="boolean", variants=ON_OFF, default_variant="off"
        )
    assert kaiten.feature_flags.get("mine").name == "Mine"


def test_flag_scopes(tenant: Tenant) -> None:
    reader = mint_key(tenant, ["read:feature_flags"])
    with KaitenClient(base_url=tenant.server.base_url, token=reader, max_retries=0) as client:
        assert client.feature_flags.list() == []
        assert client.feature_flags.manifest() == []
        with pytest.raises(Exception) as denied:
            client.feature_flags.create(
                name="x", type="boolean", variants=ON_OFF, default_variant="on"
            )
        assert getattr(denied.value, "status_code", None) == 403


# --- the OpenFeature manifest, read by openfeature-sdk ----------------------------------


class ManifestProvider(AbstractProvider):
    """An OpenFeature provider over Meterline: flag types and defaults from the manifest
    (through the SDK's ``feature_flags.manifest``), values from OFREP evaluation when the
    context names a subject, else the manifest's default."""

    def __init__(self, kaiten: KaitenClient, api: httpx.Client) -> None:
        super().__init__()
        self.api = api
        self.flags = {flag.key: flag for flag in kaiten.feature_flags.manifest()}

    def get_metadata(self) -> Metadata:
        return Metadata(name="meterline-manifest")

    def _resolve(
        self, key: str, kind: str, default: Any, context: EvaluationContext | None
    ) -> FlagResolutionDetails[Any]:
        flag = self.flags.get(key)
        if flag is None:
            return FlagResolutionDetails(default, ErrorCode.FLAG_NOT_FOUND, reason=Reason.ERROR)
        if flag.type != kind:
            return FlagResolutionDetails(default, ErrorCode.TYPE_MISMATCH, reason=Reason.ERROR)
        if context is None or not (context.targeting_key or context.attributes):
            return FlagResolutionDetails(flag.default_value, reason=Reason.STATIC)
        subject = dict(context.attributes)
        if context.targeting_key:
            subject["targetingKey"] = context.targeting_key
        body = {"context": subject}
        answer = self.api.post(f"/ofrep/v1/evaluate/flags/{key}", json=body)
        if answer.status_code != 200:
            code = ErrorCode(answer.json().get("errorCode", "GENERAL"))
            return FlagResolutionDetails(default, code, reason=Reason.ERROR)
        data = answer.json()
        return FlagResolutionDetails(
            data["value"],
            reason=data["reason"],
            variant=data.get("variant"),
            flag_metadata=data.get("metadata", {}),
        )

    def resolve_boolean_details(
        self,
        flag_key: str,
        default_value: bool,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[bool]:
        return self._resolve(flag_key, "boolean", default_value, evaluation_context)

    def resolve_string_details(
        self, flag_key: str, default_value: str, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[str]:
        return self._resolve(flag_key, "string", default_value, evaluation_context)

    def resolve_integer_details(
        self, flag_key: str, default_value: int, evaluation_context: EvaluationContext | None = None
    ) -> FlagResolutionDetails[int]:
        return self._resolve(flag_key, "number", default_value, evaluation_context)

    def resolve_float_details(
        self,
        flag_key: str,
        default_value: float,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[float]:
        return self._resolve(flag_key, "number", default_value, evaluation_context)

    def resolve_object_details(
        self,
        flag_key: str,
        default_value: Sequence[FlagValueType] | Mapping[str, FlagValueType],
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[Sequence[FlagValueType] | Mapping[str, FlagValueType]]:
        return self._resolve(flag_key, "object", default_value, evaluation_context)


@pytest.fixture
def openfeature_client() -> Iterator[None]:
    yield
    openfeature.clear_providers()


def _licensed_instance(kaiten: KaitenClient, slug: str, family: str, seats: int) -> None:
    """An instance whose license (family ``family``) grants ``seats`` seats and SSO."""
    if not any(e.slug == "seats" for e in kaiten.entitlements.list()):
        kaiten.entitlements.create(name="Seats", slug="seats", type="NUMBER")
        kaiten.entitlements.create(name="SSO", slug="sso", type="BOOLEAN")
    if not any(lic.slug == family for lic in kaiten.licenses.list()):
        kaiten.licenses.create(name=family, slug=family, type="PAID")
        kaiten.licenses.associate_entitlement(family, "sso", family == "growth")
    kaiten.licenses.create(name=f"{slug} lic", slug=f"{slug}-lic", type="PAID", family_slug=family)
    kaiten.licenses.associate_entitlement(f"{slug}-lic", "seats", seats)
    customer = kaiten.customers.create(name=f"{slug} customer", slug=f"{slug}-cust")
    kaiten.instances.create(
        name=slug,
        slug=slug,
        customer_id=customer.id,
        license_id=kaiten.licenses.get(f"{slug}-lic").id,
        start_license_date=START,
        end_license_date=END,
    )


def test_openfeature_reads_the_manifest(
    kaiten: KaitenClient, api: httpx.Client, openfeature_client: None
) -> None:
    kaiten.feature_flags.create(
        name="Checkout",
        slug="checkout",
        type="boolean",
        variants=ON_OFF,
        default_variant="off",
        description="New checkout",
        targetings=[
            targeting.rule("Growth plan", "__kaiten.license.familySlug == 'growth'", "on"),
            targeting.rule("Big seats", "__kaiten.license.entitlements['seats'] >= 100", "on"),
        ],
    )
    kaiten.feature_flags.create(
        name="Greeting",
        slug="greeting",
        type="string",
        variants=[targeting.variant("en", "Hello"), targeting.variant("fr", "Bonjour")],
        default_variant=targeting.split({"en": 1, "fr": 3}),
        targetings=[targeting.rule("French", "__kaiten.customer.slug.startsWith('fr')", "fr")],
    )
    kaiten.feature_flags.create(
        name="Limits",
        slug="limits",
        type="object",
        variants=[targeting.variant("std", {"rps": 10}), targeting.variant("big", {"rps": 99})],
        default_variant="std",
        targetings=[targeting.rule("Plan attr", "plan == 'big'", "big")],
    )
    kaiten.feature_flags.create(
        name="Ratio",
        slug="ratio",
        type="number",
        variants=[targeting.variant("x", 1.5)],
        default_variant="x",
    )
    manifest = {flag.key: flag for flag in kaiten.feature_flags.manifest()}
    assert sorted(manifest) == ["checkout", "greeting", "limits", "ratio"]
    assert (manifest["checkout"].type, manifest["checkout"].default_value) == ("boolean", False)
    assert manifest["checkout"].description == "New checkout"
    assert manifest["greeting"].default_value == "Bonjour"  # the heaviest of the split
    assert manifest["limits"].default_value == {"rps": 10}

    _licensed_instance(kaiten, "acme", "growth", 5)
    _licensed_instance(kaiten, "small", "starter", 5)
    _licensed_instance(kaiten, "huge", "starter", 500)

    openfeature.set_provider(ManifestProvider(kaiten, api))
    client = openfeature.get_client()
    # No subject: the manifest's defaults.
    assert client.get_boolean_value("checkout", True) is False
    assert client.get_string_value("greeting", "") == "Bonjour"
    assert client.get_object_value("limits", {}) == {"rps": 10}
    assert client.get_float_value("ratio", 0.0) == 1.5
    # Per instance: its license's family and entitlements decide.
    growth = client.get_boolean_details(
        "checkout", False, EvaluationContext(attributes={"instance": "acme"})
    )
    assert (growth.value, growth.reason, growth.variant) == (True, "TARGETING_MATCH", "on")
    assert growth.flag_metadata == {"matchedRule": "Growth plan"}
    small = client.get_boolean_details(
        "checkout", True, EvaluationContext(attributes={"instance": "small"})
    )
    assert (small.value, small.reason) == (False, "DEFAULT")
    huge = client.get_boolean_details(
        "checkout", False, EvaluationContext(attributes={"instance": "huge"})
    )
    assert huge.value is True and huge.flag_metadata == {"matchedRule": "Big seats"}
    # Per customer: the targeting key names the customer.
    french = client.get_string_details("greeting", "", EvaluationContext("fr-corp"))
    assert french.reason == "SPLIT"  # no such customer: the split decides
    kaiten.customers.create(name="French corp", slug="fr-corp")
    french = client.get_string_details("greeting", "", EvaluationContext("fr-corp"))
    assert (french.value, french.reason) == ("Bonjour", "TARGETING_MATCH")
    # The caller's own attributes are read as given.
    big = client.get_object_value("limits", {}, EvaluationContext("k", {"plan": "big"}))
    assert big == {"rps": 99}
    # Type mismatch and unknown flags come back as the caller's default.
    assert client.get_string_value("checkout", "fallback") == "fallback"
    assert client.get_boolean_value("nope", True) is True


def test_splits_are_sticky_and_weighted(kaiten: KaitenClient, api: httpx.Client) -> None:
    kaiten.feature_flags.create(
        name="Split",
        slug="split",
        type="boolean",
        variants=ON_OFF,
        default_variant=targeting.split({"on": 20, "off": 80}),
    )

    def value(key: str) -> bool:
        answer = api.post("/ofrep/v1/evaluate/flags/split", json={"context": {"targetingKey": key}})
        assert answer.status_code == 200, answer.text
        return bool(answer.json()["value"])

    first = [value(f"subject-{i}") for i in range(200)]
    assert first == [value(f"subject-{i}") for i in range(200)]  # sticky
    assert 20 <= sum(first) <= 60  # about 20% of 200


def test_evaluation_refusals(kaiten: KaitenClient, api: httpx.Client) -> None:
    kaiten.feature_flags.create(
        name="F", slug="ff", type="boolean", variants=ON_OFF, default_variant="on"
    )
    missing = api.post("/ofrep/v1/evaluate/flags/nope", json={"context": {"targetingKey": "a"}})
    assert missing.status_code == 404
    assert missing.json()["errorCode"] == "FLAG_NOT_FOUND"
    reserved = api.post(
        "/ofrep/v1/evaluate/flags/ff", json={"context": {"__kaiten": {"license": {}}}}
    )
    assert reserved.status_code == 422
    assert reserved.json()["errors"][0]["location"] == "body.context.__kaiten"
    bad_key = api.post("/ofrep/v1/evaluate/flags/ff", json={"context": {"targetingKey": 7}})
    assert bad_key.status_code == 422
    assert bad_key.json()["errors"][0]["location"] == "body.context.targetingKey"
    unknown = api.post("/ofrep/v1/evaluate/flags/ff", json={"context": {"instance": "ghost"}})
    assert unknown.status_code == 404
    disabled_body = {
        "name": "F",
        "type": "boolean",
        "variants": [
            {"name": "on", "value": True, "description": ""},
            {"name": "off", "value": False, "description": ""},
        ],
        "default_variant": {"type": "basic", "value": "off"},
        "targetings": [{"type": "basic", "name": "all", "rule": "true", "variant": "on"}],
        "enabled": False,
    }
    assert api.put("/feature-flags/ff", json=disabled_body).status_code == 204
    off = api.post("/ofrep/v1/evaluate/flags/ff", json={"context": {"targetingKey": "a"}}).json()
    assert (off["value"], off["reason"]) == (False, "DISABLED")


def test_async_flag_flow(tenant: Tenant) -> None:
    async def flow() -> None:
        async with AsyncKaitenClient(
            base_url=tenant.server.base_url, token=tenant.key, max_retries=0
        ) as client:
            created = await client.feature_flags.create(
                name="Async",
                type="number",
                variants=[targeting.variant("low", 1), targeting.variant("high", 10)],
                default_variant="low",
            )
            slug = created.slug or ""
            await client.feature_flags.update(
                slug,
                name="Async 2",
                type="number",
                variants=[targeting.variant("low", 1), targeting.variant("high", 10)],
                default_variant="high",
            )
            got = await client.feature_flags.get(slug)
            assert got.name == "Async 2"
            assert [f.id for f in await client.feature_flags.list()] == [created.id]
            manifest = await client.feature_flags.manifest()
            assert [(m.key, m.default_value) for m in manifest] == [(slug, 10)]
            await client.feature_flags.delete(slug)
            assert await client.feature_flags.list() == []

    asyncio.run(flow())


def test_numbers_out_of_range_are_refused(api: httpx.Client) -> None:
    """``1e999`` parses as infinity: no JSON column stores it, so it is refused by name."""
    variants = (
        '[{"name": "a", "value": 1e999, "description": ""}]',
        '[{"name": "a", "value": 1, "description": ""}]',
    )
    for variant_list, metadata, location in (
        (variants[0], "{}", "body.variants[0].value"),
        (variants[1], '{"x": [1e999]}', "body.metadata"),
    ):
        content = (
            '{"name": "Inf", "type": "number", "variants": ' + variant_list + ","
            ' "default_variant": {"type": "basic", "value": "a"}, "metadata": ' + metadata + "}"
        )
        refused = api.post(
            "/feature-flags", content=content, headers={"Content-Type": "application/json"}
        )
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"][0]["location"] == location
