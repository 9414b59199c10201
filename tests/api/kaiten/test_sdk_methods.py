"""The SDK method inventory: every method of the official ``kaitencloud`` clients is driven
by a test of this folder, or listed here as not served yet.

Methods are read from the installed SDK (its ``KaitenClient`` resources and the
``KaitenPlatformClient``), so a new SDK method is caught the moment the package is updated.
A method counts as driven when a test module of ``tests/api/kaiten`` calls it as
``.<resource>.<method>(`` (or ``.me(`` on the platform client). ``NOT_SERVED`` must be
exactly the methods no test drives: building one without removing it, or dropping the test
of a served one, fails here.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from kaitencloud import KaitenClient, KaitenPlatformClient

HERE = Path(__file__).resolve().parent

# Every method is served; a method a new SDK adds goes here until its tests land.
NOT_SERVED: frozenset[str] = frozenset()


def _methods(client: object, prefix: str) -> set[str]:
    found = set()
    for name, resource in vars(client).items():
        if name.startswith("_"):
            continue
        for method, _ in inspect.getmembers(type(resource), inspect.isfunction):
            if not method.startswith("_"):
                found.add(f"{prefix}{name}.{method}")
    return found


def sdk_methods() -> set[str]:
    with KaitenClient(base_url="http://127.0.0.1:9", token="k", max_retries=0) as main:
        methods = _methods(main, "")
    with KaitenPlatformClient(
        base_url="http://127.0.0.1:9", token="ksm_inventory", max_retries=0
    ) as platform:
        methods |= _methods(platform, "platform.")
    return methods | {"platform.me"}


def driven() -> set[str]:
    source = "\n".join(
        path.read_text() for path in HERE.glob("test_*.py") if path.name != Path(__file__).name
    )
    calls = {f"{m[0]}.{m[1]}" for m in re.findall(r"\.([a-z_]+)\.([a-z_]+)\(", source)}
    platform = {f"platform.{call}" for call in calls}
    if re.search(r"\.me\(\)", source):
        platform.add("platform.me")
    return calls | platform


def test_the_sdk_has_the_methods_this_inventory_counts() -> None:
    methods = sdk_methods()
    assert len(methods) == 109, sorted(methods)


def test_every_sdk_method_is_driven_by_a_test_or_listed_as_not_served() -> None:
    methods = sdk_methods()
    undriven = methods - driven()
    assert undriven == NOT_SERVED, {
        "driven but still listed as not served": sorted(NOT_SERVED - undriven),
        "not driven and not listed": sorted(undriven - NOT_SERVED),
    }
