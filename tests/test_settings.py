"""One ``Settings``: every documented ``METERLINE_*`` variable reaches the setting it names,
and only the entry points build it.

The variables are read from README.md and docs/*.md as a reader finds them (the README's
webhook row abbreviates ``METERLINE_WEBHOOK_POLL_SECONDS`` as ``_POLL_SECONDS``); those of
the test and benchmark harness are not settings.
"""

from __future__ import annotations

import ast
import re
import typing
from pathlib import Path
from typing import Any, Literal

import pytest
from pydantic import BaseModel

from meterline.app import create_app
from meterline.settings import ENVIRONMENT, DatabaseSettings, Settings

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "src" / "meterline"
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# Variables of the test and benchmark harness (tests/, bench/), not of the server.
HARNESS = ("METERLINE_TEST_", "METERLINE_FUZZ_", "METERLINE_BENCH_")
# The modules that may build Settings: the process's entry points.
# cli_start.py: the command line's start-up (settings checked, database opened), for cli.py.
ENTRY_POINTS = {
    "app.py",
    "cli.py",
    "cli_start.py",
    "demo.py",
    "db/migrations/env.py",
    "settings.py",
}

_FULL = re.compile(r"`(METERLINE_[A-Z0-9_]*[A-Z0-9])(?:=[^`]*)?`")
_SHORT = re.compile(r"`(_[A-Z0-9_]*[A-Z0-9])`")


def documented() -> set[str]:
    names: set[str] = set()
    for document in DOCUMENTS:
        for line in document.read_text().splitlines():
            full = _FULL.findall(line)
            names.update(full)
            short = _SHORT.findall(line)
            if short:
                assert full, f"{document.name}: {short} abbreviates no variable: {line}"
                stem = full[0].rsplit("_", 1)[0]  # METERLINE_WEBHOOK_WORKER → METERLINE_WEBHOOK
                names.update(stem + suffix for suffix in short)
    return {n for n in names if not n.startswith(HARNESS)}


def _section(settings: Settings, section: str | None) -> Any:
    return settings if section is None else getattr(settings, section)


def _sample(model: type[BaseModel], field: str) -> tuple[str, Any]:
    """A value unlike the default, as text and as the setting should hold it."""
    info = model.model_fields[field]
    annotation = info.annotation
    default = info.get_default(call_default_factory=True)
    if typing.get_origin(annotation) is Literal:
        choice = next(c for c in typing.get_args(annotation) if c != default)
        return str(choice), choice
    if annotation is bool:
        return ("false", False) if default else ("true", True)
    if annotation is int:
        return "7", 7
    if annotation is float:
        return "2.5", 2.5
    return "sample-value", "sample-value"


def _model(section: str | None) -> type[BaseModel]:
    if section is None:
        return Settings
    annotation = Settings.model_fields[section].annotation
    assert isinstance(annotation, type) and issubclass(annotation, BaseModel)
    return annotation


def test_the_documents_name_variables() -> None:
    found = documented()
    # The reader is not blind: the README table names these, one of them abbreviated.
    assert {"METERLINE_BODY_TIMEOUT_SECONDS", "METERLINE_WEBHOOK_POLL_SECONDS"} <= found


def test_every_documented_variable_is_a_setting() -> None:
    unknown = sorted(documented() - set(ENVIRONMENT))
    assert not unknown, f"documented but read by nothing: {unknown}"


def test_every_setting_is_documented() -> None:
    undocumented = sorted(set(ENVIRONMENT) - documented())
    assert not undocumented, f"settings the README and docs do not name: {undocumented}"


@pytest.mark.parametrize("name", sorted(documented() & set(ENVIRONMENT)))
def test_each_variable_reaches_the_setting_it_names(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    section, field = ENVIRONMENT[name]
    text, expected = _sample(_model(section), field)
    before = getattr(_section(Settings(), section), field)
    assert before != expected
    monkeypatch.setenv(name, text)
    settings = Settings()
    assert getattr(_section(settings, section), field) == expected
    # Every other setting keeps its default.
    for other_name, (other_section, other_field) in ENVIRONMENT.items():
        if other_name != name:
            value = getattr(_section(settings, other_section), other_field)
            assert value == getattr(
                _section(Settings.model_construct(), other_section), other_field
            )
    # Names are read case-insensitively, as they always were.
    monkeypatch.delenv(name)
    monkeypatch.setenv(name.lower(), text)
    assert getattr(_section(Settings(), section), field) == expected


def test_keywords_take_the_flat_names_and_win_over_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("METERLINE_DATABASE_URL", "sqlite:///from-env.db")
    monkeypatch.setenv("METERLINE_POOL_SIZE", "9")
    settings = Settings(database_url="sqlite://", max_body_bytes=1234)
    assert settings.database == DatabaseSettings(url="sqlite://", pool_size=9)
    assert settings.http.max_body_bytes == 1234
    # A whole section replaces the environment's.
    assert Settings(database=DatabaseSettings(url="sqlite://")).database.pool_size == 24
    assert Settings(database={"url": "sqlite://"}).database.pool_size == 9


def test_a_bad_value_is_refused_naming_its_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("METERLINE_EVENT_STORE", "mongodb")
    with pytest.raises(ValueError, match=r"events\.store"):
        Settings()


def test_the_app_reads_the_settings_it_is_given_not_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("METERLINE_MAX_BODY_BYTES", "999")
    app = create_app(Settings(database_url="sqlite://", max_body_bytes=4321))
    assert "limited to 4321 bytes" in (app.description or "")
    assert app.state.settings.http.max_body_bytes == 4321
    assert "limited to 999 bytes" in (create_app().description or "")


def _builds_settings(tree: ast.AST) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if name == "Settings":
                return True
    return False


def test_only_the_entry_points_build_settings() -> None:
    builders = {
        path.relative_to(SOURCE).as_posix()
        for path in SOURCE.rglob("*.py")
        if _builds_settings(ast.parse(path.read_text()))
    }
    assert "app.py" in builders and "cli_start.py" in builders  # the check sees calls
    assert builders <= ENTRY_POINTS, (
        f"Settings built below the entry points: {builders - ENTRY_POINTS}"
    )
