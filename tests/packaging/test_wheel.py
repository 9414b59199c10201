"""The built wheel is complete: installed outside the source tree (no editable install, no
``src`` on the path), ``meterline serve`` starts from it and the dashboard's login page
renders. A file the package needs but the wheel lacks (a template, a migration script) shows
up here and nowhere else: the rest of the suite runs against the source tree.

The wheel's dependencies are not installed from an index (slow, and the network is not the
subject): the fresh virtualenv sees the test interpreter's site-packages through a ``.pth``
line, which adds that directory to the path without running its ``.pth`` files, so the
editable install of the source tree stays out of reach.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import time
import zipfile
from pathlib import Path

import httpx

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "meterline"


def _package_files() -> set[str]:
    """Every file under src/meterline (byte code aside), as a path inside the wheel."""
    found = set()
    for path in PACKAGE.rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            found.add(path.relative_to(PACKAGE.parent).as_posix())
    return found


def _build_wheel(tmp_path: Path) -> Path:
    # Built from a copy, so setuptools' build/ and egg-info never land in the source tree.
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, source / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    shutil.copytree(ROOT / "src", source / "src", ignore=ignore)
    dist = tmp_path / "dist"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--quiet",
            "-w",
            str(dist),
            str(source),
        ],
        check=True,
        timeout=300,
    )
    [wheel] = dist.glob("meterline-*.whl")
    return wheel


def _fresh_venv(tmp_path: Path, wheel: Path, env: dict[str, str]) -> Path:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    # pip runs under the new interpreter but from this one's site-packages, where it sees
    # the editable install: --ignore-installed makes it install the wheel regardless.
    subprocess.run(
        [
            *(sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet"),
            *("--no-deps", "--no-index", "--ignore-installed", str(wheel)),
        ],
        check=True,
        env=env,
        timeout=300,
    )
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (Path(site) / "meterline-test-dependencies.pth").write_text("\n".join(sorted(ours)) + "\n")
    return python


def test_the_installed_wheel_serves_the_dashboard(tmp_path: Path) -> None:
    wheel = _build_wheel(tmp_path)
    with zipfile.ZipFile(wheel) as archive:
        packed = set(archive.namelist())
    assert _package_files() - packed == set()
    assert {"meterline/ui/templates/login.html", "meterline/db/migrations/env.py"} <= packed
    with zipfile.ZipFile(wheel) as archive:
        [metadata] = [n for n in packed if n.endswith(".dist-info/METADATA")]
        assert "License-Expression: Apache-2.0" in archive.read(metadata).decode().splitlines()
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in packed)

    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "METERLINE_"))}
    python = _fresh_venv(tmp_path, wheel, env)
    env |= {
        "PYTHONNOUSERSITE": "1",
        "METERLINE_DATABASE_URL": f"sqlite:///{tmp_path / 'wheel.db'}",
        "METERLINE_WEBHOOK_WORKER": "false",
        "METERLINE_BILLING_INTERVAL_SECONDS": "0",
    }
    where = subprocess.run(
        [str(python), "-c", "import meterline; print(meterline.__file__)"],
        cwd=tmp_path,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    assert Path(where).is_relative_to(tmp_path / "venv"), where

    port = free_port()
    log_path = tmp_path / "serve.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [str(python), "-m", "meterline", "serve", "--port", str(port)],
            cwd=tmp_path,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, log_path.read_text()
            try:
                if httpx.get(base + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        login = httpx.get(base + "/ui/login", timeout=10)
        assert login.status_code == 200, (login.text, log_path.read_text())
        assert "<form" in login.text
    finally:
        process.terminate()
        process.wait(timeout=15)
