"""End to end, offline: a separate Python process plays the air-gapped installation. It has
no network (its sockets refuse to connect) and no database library loaded; it only reads
and writes files in its directory, and trusts the vendor keys pinned in its source by the
"build". It activates offline, records usage for three days (appends and sets) and exports
a bundle a day; the vendor's server imports the bundles (a gap refused, then every bundle
twice) and the totals are exact; the installation then takes the acknowledgements."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from tests.api.kaiten.conftest import granted_instance

# The installation's program. {keys} is replaced by the vendor keys at "build" time.
PROGRAM = """
import json, socket, sys
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path


def _air_gapped(*args, **kwargs):
    raise OSError("air-gapped: this installation has no network")


socket.socket.connect = _air_gapped
socket.socket.connect_ex = _air_gapped
socket.create_connection = _air_gapped

from meterline.licensing.installation import Installation

VENDOR_KEYS = {keys}
FINGERPRINT = "airgap-host-1"
DAY0 = datetime(2027, 3, 1, tzinfo=timezone.utc)
now = datetime.now(timezone.utc)
command, directory = sys.argv[1], Path(sys.argv[2])
box = Installation(directory, VENDOR_KEYS, FINGERPRINT)
files = directory / "exchange"
files.mkdir(exist_ok=True)
if command == "request":
    text = box.request_activation(sys.argv[3], now, hostname="airgap", platform="linux", cores=8)
    (files / "activation-request.txt").write_text(text)
elif command == "days":
    box.accept_response((files / "activation-response.txt").read_text(), now)
    for day in (1, 2, 3):
        at = DAY0 + timedelta(days=day)
        for hour in range(day * 3):
            box.record("{calls}", "append", Decimal(hour) + Decimal("0.125"), at)
        box.record("{storage}", "set", Decimal(day) * Decimal("10.5"), at)
        box.record("{storage}", "append", Decimal("0.25"), at)
        (files / f"bundle-{{day}}.txt").write_text(box.export_bundle(at))
elif command == "acks":
    for ack in sorted(files.glob("ack-*.txt")):
        box.accept_ack(ack.read_text(), now)
    decision = box.check(now)
    print(json.dumps({{
        "status": decision.status,
        "machine": decision.payload["machine"]["fingerprint"],
        "unacknowledged": sorted(box.unacknowledged()),
        "pending": len(box.state()["pending"]),
        "databaseLoaded": any(m.startswith("sqlalchemy") for m in sys.modules),
        "httpLoaded": any(m.startswith(("httpx", "urllib3", "requests")) for m in sys.modules),
    }}))
"""


def _grant(api: httpx.Client, license_slug: str) -> str:
    slug = f"e-{uuid.uuid4().hex[:8]}"
    created = api.post("/entitlements", json={"name": slug, "slug": slug, "description": None})
    assert created.status_code in (200, 201), created.text
    granted = api.post(
        f"/licenses/{license_slug}/entitlements",
        json={
            "entitlementSlug": slug,
            "value": {"type": "number", "value": 1_000_000},
            "limitCapExceededOveragePercent": 0,
        },
    )
    assert granted.status_code in (200, 201, 204), granted.text
    return slug


def _run(build: Path, *args: str) -> str:
    src = Path(__file__).resolve().parents[2] / "src"
    env = {k: v for k, v in os.environ.items() if not k.startswith("METERLINE")}
    env["PYTHONPATH"] = str(src)
    # No proxy, no server address: nothing in its environment points at the server.
    done = subprocess.run(
        [sys.executable, str(build / "airgap.py"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _usage(api: httpx.Client, instance: str, entitlement: str) -> Decimal:
    response = api.get(f"/instances/{instance}/entitlements/{entitlement}/usage")
    assert response.status_code == 200, response.text
    return Decimal(str(response.json()["value"]["value"]))


def test_air_gapped_installation(api: httpx.Client, tmp_path: Path) -> None:
    instance, calls = granted_instance(api, 1_000_000)
    storage = _grant(api, f"{calls}-lic")
    policy = api.put(f"/licenses/{calls}-lic/machine-policy", json={"maxMachines": 1})
    assert policy.status_code == 200, policy.text
    issued = api.post(f"/instances/{instance}/license-files", json={"lifetimeSeconds": 86400})
    assert issued.status_code == 201, issued.text
    keys = api.get("/.well-known/meterline-license-keys.json").json()["keys"]
    pinned: dict[str, Any] = {k["kid"]: k["publicKey"] for k in keys}

    build = tmp_path / "build"
    build.mkdir()
    source = PROGRAM.format(keys=repr(pinned), calls=calls, storage=storage)
    (build / "airgap.py").write_text(source)
    home = tmp_path / "installation"
    exchange = home / "exchange"

    _run(build, "request", str(home), issued.headers["License-File-Id"])
    request = (exchange / "activation-request.txt").read_text()
    activated = api.post("/offline/activations", json={"request": request})
    assert activated.status_code == 201, activated.text
    (exchange / "activation-response.txt").write_text(activated.json()["response"])
    replay = api.post("/offline/activations", json={"request": request})
    assert replay.json()["code"] == "ActivateOffline.RequestReplayed"

    _run(build, "days", str(home))
    bundles = [(exchange / f"bundle-{day}.txt").read_text() for day in (1, 2, 3)]

    def imported(bundle: str) -> httpx.Response:
        return api.post("/offline/usage-bundles", json={"bundle": bundle})

    first = imported(bundles[0])
    assert first.status_code == 200 and not first.json()["replayed"], first.text
    gap = imported(bundles[2])
    assert (gap.status_code, gap.json()["code"]) == (409, "ImportUsageBundle.SequenceGap")
    acks = {1: first.json()["acknowledgement"]}
    for round_ in (1, 2):
        for sequence, bundle in enumerate(bundles, start=1):
            answer = imported(bundle)
            assert answer.status_code == 200, answer.text
            body = answer.json()
            assert body["sequence"] == sequence
            assert body["replayed"] is (round_ == 2 or sequence == 1)
            assert body["rejected"] == []
            acks.setdefault(sequence, body["acknowledgement"])

    # the totals, computed here from what the program records
    expected_calls = sum(
        (Decimal(hour) + Decimal("0.125") for day in (1, 2, 3) for hour in range(day * 3)),
        Decimal(0),
    )
    assert expected_calls == Decimal("56.25")  # 3 + 15 + 36 whole hours, 18 eighths
    assert _usage(api, instance, calls) == expected_calls
    assert _usage(api, instance, storage) == Decimal("31.5") + Decimal("0.25")  # day 3's set
    ledger = api.get(f"/instances/{instance}/entitlements/{calls}/usage/reports?limit=1000")
    assert len(ledger.json()) == 3 + 6 + 9  # each report once, though every bundle came twice

    for sequence, ack in acks.items():
        (exchange / f"ack-{sequence}.txt").write_text(ack)
    state = json.loads(_run(build, "acks", str(home)))
    assert state == {
        "status": "VALID",
        "machine": "airgap-host-1",
        "unacknowledged": [],
        "pending": 0,
        "databaseLoaded": False,
        "httpLoaded": False,
    }
    machines = api.get(f"/instances/{instance}/machines").json()["items"]
    assert [(m["fingerprint"], m["cores"]) for m in machines] == [("airgap-host-1", 8)]
