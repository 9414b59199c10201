from dataclasses import dataclass

from meterline.kernel.unset import UNSET, Unset, sent


@dataclass(frozen=True)
class Changes:
    limit: int | Unset | None = UNSET
    name: str | Unset | None = UNSET


def test_a_field_not_given_is_unset_and_an_explicit_null_is_none() -> None:
    changes = sent(Changes, {"limit"}, {"limit": None, "name": "ignored"})
    assert changes.limit is None
    assert changes.name is UNSET


def test_given_values_are_kept_and_names_the_command_lacks_are_ignored() -> None:
    changes = sent(Changes, ["name", "other"], {"name": "x", "other": 1, "limit": 3})
    assert changes == Changes(name="x")


def test_unset_is_falsy_and_prints_as_its_name() -> None:
    assert not UNSET
    assert repr(UNSET) == "UNSET"
