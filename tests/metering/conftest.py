"""Fixtures of the metering tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def chdb_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The in-process ClickHouse (chdb) of this test process: chdb runs one engine per
    process, at one path, so every module's ClickHouse store opens this one."""
    return f"chdb://{tmp_path_factory.mktemp('chdb') / 'ch'}"
