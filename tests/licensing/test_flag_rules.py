"""The pure flag evaluation: golden cases for rule order, disabled flags, sticky weighted
splits and the date rollout's interpolation, and the definition checks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from meterline.kernel.errors import InvalidRequest
from meterline.licensing.flag_rules import (
    BUCKETS,
    FlagDefinition,
    Rule,
    Serve,
    Step,
    Variant,
    bucket,
    check,
    default_variant_name,
    end_share,
    evaluate,
)

NOW = datetime(2026, 6, 1, tzinfo=UTC)
ON_OFF = (Variant("on", True), Variant("off", False))


def _flag(*rules: Rule, default: Serve | None = None, enabled: bool = True) -> FlagDefinition:
    return FlagDefinition(
        key="checkout",
        type="boolean",
        enabled=enabled,
        variants=ON_OFF,
        default=default or Serve("basic", variant="off"),
        rules=rules,
    )


GROWTH = Rule("Growth", "__kaiten.license.familySlug == 'growth'", Serve("basic", variant="on"))
SEATS = Rule("Seats", "__kaiten.license.entitlements['seats'] >= 100", Serve("basic", variant="on"))


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        ({"__kaiten": {"license": {"familySlug": "growth"}}}, ("on", "TARGETING_MATCH", "Growth")),
        (
            {"__kaiten": {"license": {"familySlug": "x", "entitlements": {"seats": 100}}}},
            ("on", "TARGETING_MATCH", "Seats"),
        ),
        (
            {"__kaiten": {"license": {"familySlug": "x", "entitlements": {"seats": 99}}}},
            ("off", "DEFAULT", None),
        ),
        # A rule that fails on the context (no license at all) does not match.
        ({"__kaiten": {}}, ("off", "DEFAULT", None)),
    ],
)
def test_rules_in_order(context: dict[str, object], expected: tuple[str, str, str | None]) -> None:
    found = evaluate(_flag(GROWTH, SEATS), context, "k", NOW)
    assert (found.variant, found.reason, found.rule) == expected


def test_a_disabled_flag_evaluates_no_rule() -> None:
    everyone = Rule("All", "true", Serve("basic", variant="on"))
    found = evaluate(_flag(everyone, enabled=False), {}, "k", NOW)
    assert (found.variant, found.value, found.reason) == ("off", False, "DISABLED")


def test_a_non_boolean_rule_does_not_match() -> None:
    found = evaluate(_flag(Rule("Str", "'yes'", Serve("basic", variant="on"))), {}, "k", NOW)
    assert found.reason == "DEFAULT"


def test_bucket_golden() -> None:
    assert bucket("checkout", "acme") == bucket("checkout", "acme")
    assert 0 <= bucket("checkout", "acme") < BUCKETS
    assert bucket("checkout", "acme") != bucket("other", "acme")


def test_split_is_sticky_and_weighted() -> None:
    split = Serve("rollout_percentage", distribution=(("on", 1), ("off", 3)))
    flag = _flag(default=split)
    answers = [evaluate(flag, {}, f"s{i}", NOW).variant for i in range(2000)]
    assert answers == [evaluate(flag, {}, f"s{i}", NOW).variant for i in range(2000)]
    assert 400 <= answers.count("on") <= 600  # 25% of 2000
    assert evaluate(flag, {}, "s1", NOW).reason == "SPLIT"


@pytest.mark.parametrize(
    ("now", "share"),
    [
        (datetime(2026, 1, 1, tzinfo=UTC), 20.0),  # at the start: 100 - 80
        (datetime(2025, 1, 1, tzinfo=UTC), 20.0),  # before the start
        (datetime(2026, 1, 11, tzinfo=UTC), 35.0),  # halfway from 20 to 50
        (datetime(2026, 1, 21, tzinfo=UTC), 50.0),  # at the end
        (datetime(2027, 1, 1, tzinfo=UTC), 50.0),  # after the end
    ],
)
def test_date_rollout_share(now: datetime, share: float) -> None:
    start = Step("off", 80, datetime(2026, 1, 1, tzinfo=UTC))
    end = Step("on", 50, datetime(2026, 1, 21, tzinfo=UTC))
    assert end_share(start, end, now) == share


def test_date_rollout_only_moves_subjects_forward() -> None:
    start = Step("off", 100, NOW)
    end = Step("on", 100, NOW + timedelta(days=10))
    flag = _flag(default=Serve("rollout_date", start=start, end=end))
    subjects = [f"s{i}" for i in range(300)]
    on_before: set[str] = set()
    for day in range(11):
        moment = NOW + timedelta(days=day)
        on = {s for s in subjects if evaluate(flag, {}, s, moment).variant == "on"}
        assert on_before <= on
        on_before = on
    assert on_before == set(subjects)
    assert not any(evaluate(flag, {}, s, NOW).variant == "on" for s in subjects)


def test_manifest_default_variant() -> None:
    assert default_variant_name(_flag()) == "off"
    split = Serve("rollout_percentage", distribution=(("on", 1), ("off", 3)))
    assert default_variant_name(_flag(default=split)) == "off"
    tie = Serve("rollout_percentage", distribution=(("on", 2), ("off", 2)))
    assert default_variant_name(_flag(default=tie)) == "on"
    dated = Serve("rollout_date", start=Step("on", 100, NOW), end=Step("off", 100, NOW))
    assert default_variant_name(_flag(default=dated)) == "on"


@pytest.mark.parametrize(
    ("definition", "field"),
    [
        (
            FlagDefinition("k", "number", True, ON_OFF, Serve("basic", variant="on")),
            "variants[0].value",
        ),
        (FlagDefinition("k", "boolean", True, (), Serve("basic", variant="on")), "variants"),
        (_flag(default=Serve("basic", variant="maybe")), "default_variant"),
        (_flag(Rule("r", "1 +", Serve("basic", variant="on"))), "targetings[0].rule"),
        (_flag(Rule("r", "true", Serve("basic", variant="nope"))), "targetings[0]"),
        (
            _flag(default=Serve("rollout_date", start=Step("on", 1, NOW), end=Step("off", 1, NOW))),
            "default_variant.end.date",
        ),
        (
            FlagDefinition(
                "k",
                "string",
                True,
                (Variant("a", "x"), Variant("a", "y")),
                Serve("basic", variant="a"),
            ),
            "variants[1].name",
        ),
    ],
)
def test_check_names_the_field(definition: FlagDefinition, field: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        check(definition)
    assert refused.value.field == field


def test_number_flags_take_ints_and_floats_not_bools() -> None:
    ok = FlagDefinition(
        "k", "number", True, (Variant("a", 1), Variant("b", 2.5)), Serve("basic", variant="a")
    )
    check(ok)
    with pytest.raises(InvalidRequest):
        check(
            FlagDefinition("k", "number", True, (Variant("a", True),), Serve("basic", variant="a"))
        )
