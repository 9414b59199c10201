"""The README's code blocks run as written, in order, against a real server: the curl
walkthrough, the flexprice and kaitencloud snippets, and the offline license check.

Only the address and the key differ: the README's ``http://127.0.0.1:8080`` and
``sk_demo_key_123`` (``METERLINE_BOOTSTRAP_KEY=sk_demo_key_123 make run`` on a fresh
database) become the test server's address and a key of a fresh environment, which is as
empty as a fresh database. Blocks that start a server, install a package or seed the demo
are not run. A Python block's ``print(...)  # value`` comments are what it must print; a
shell block runs under ``set -euo pipefail`` (its curls fail on any HTTP error)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import Tenant

README = Path(__file__).resolve().parents[2] / "README.md"
FENCE = re.compile(r"^```(\w+)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
NOT_RUN = ("make ", "METERLINE_BOOTSTRAP_KEY=", "pip install ", ".venv/bin/meterline demo")
PRINTS = re.compile(r"^\s*print\(.*\)\s+# (.+)$", re.MULTILINE)


def blocks() -> list[tuple[str, str]]:
    found = [(m.group(1), m.group(2)) for m in FENCE.finditer(README.read_text())]
    return [
        (language, code)
        for language, code in found
        if language in ("sh", "python") and not code.startswith(NOT_RUN)
    ]


def test_every_readme_snippet_runs_as_written(tenant: Tenant, tmp_path: Path) -> None:
    runnable = blocks()
    assert [language for language, _ in runnable] == ["sh", "python", "python", "sh"]
    # `.venv/bin/meterline` as the README names it, relative to the clone.
    wrapper = tmp_path / ".venv" / "bin" / "meterline"
    wrapper.parent.mkdir(parents=True)
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m meterline "$@"\n')
    wrapper.chmod(0o755)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    for language, code in runnable:
        code = code.replace("http://127.0.0.1:8080", tenant.server.base_url)
        code = code.replace("sk_demo_key_123", tenant.key)
        command = (
            ["bash", "-euo", "pipefail", "-c", code]
            if language == "sh"
            else [sys.executable, "-c", code]
        )
        ran = subprocess.run(
            command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
        )
        assert ran.returncode == 0, f"{code}\n--- stdout\n{ran.stdout}\n--- stderr\n{ran.stderr}"
        if language == "python":
            expected = [value.strip().strip('"') for value in PRINTS.findall(code)]
            assert expected, code
            assert ran.stdout.splitlines() == expected, code
        elif "license verify" in code:
            words = " ".join(ran.stdout.split())  # rich wraps lines at the terminal's width
            assert words.startswith("signature valid (key "), ran.stdout
            assert "instance initech-prod of customer Initech, license growth v1" in words
            assert "projects NUMBER 5" in words
        else:
            assert '"duplicates":"1"' in ran.stdout, ran.stdout
            assert '"metricType":"API Tokens"' in ran.stdout, ran.stdout
