"""SIGKILL of the real ``meterline serve`` amid concurrent activations, seat checkouts and
reservations (held, half of them settled), on SQLite and PostgreSQL: no limit is passed
before or after the crash, every acknowledged activation survives it, and once the TTLs
pass no seat and no held amount is left out (a process that held one needs nothing to run
for it to come back)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.api.kaiten.conftest import granted_instance
from tests.conftest import BOOTSTRAP_KEY, POSTGRES_URL, Server, _postgres_database, new_tenant
from tests.reliability.test_kill import Node

MAX_SEATS, MAX_MACHINES, TTL, LIMIT = 3, 4, 2, 10


@pytest.fixture(params=["sqlite"] + (["postgres"] if POSTGRES_URL else []))
def node(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Node]:
    root = tmp_path_factory.mktemp("seats")
    databases = _postgres_database(root) if request.param == "postgres" else None
    url = next(databases) if databases is not None else f"sqlite:///{root / 'seats.db'}"
    server = Node(url, root)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        for _ in databases or ():
            pass


@pytest.mark.slow  # a kill harness, as tests/reliability/test_kill.py
def test_no_limit_passed_and_no_seat_leaked_across_sigkill(node: Node) -> None:
    assert node.process is not None
    tenant = new_tenant(
        Server(node.base_url, node.database_url, BOOTSTRAP_KEY, node.process, node.log_dir)
    )
    headers = {"Authorization": f"Bearer {tenant.key}"}
    with httpx.Client(base_url=node.base_url + "/api", headers=headers, timeout=30) as api:
        instance, ent = granted_instance(api, LIMIT)
        policy = {"maxSeats": MAX_SEATS, "maxMachines": MAX_MACHINES, "defaultLeaseTtlSeconds": TTL}
        assert api.put(f"/licenses/{ent}-lic/machine-policy", json=policy).status_code == 200
    holds = f"/instances/{instance}/entitlements/{ent}/reservations"
    acked_machines: set[str] = set()
    unexpected: list[str] = []
    over: list[int] = []
    stop = threading.Event()

    def client(number: int) -> None:
        with httpx.Client(base_url=node.base_url + "/api", headers=headers, timeout=5) as http:
            attempt = 0
            while not stop.is_set():
                attempt += 1
                try:
                    seat = http.post(
                        f"/instances/{instance}/leases", json={"holder": f"p{number}-{attempt}"}
                    )
                    machine = http.post(
                        f"/instances/{instance}/machines",
                        json={"fingerprint": f"m{number}-{attempt}"},
                    )
                    held = http.post(holds, json={"amount": 1, "ttlSeconds": TTL})
                    if held.status_code == 201 and attempt % 2:
                        settle = f"{holds}/{held.json()['id']}/settle"
                        held = http.post(settle, json={"amount": 1})
                    seats = http.get(f"/instances/{instance}/leases").json()["items"]
                except (httpx.HTTPError, ValueError):
                    time.sleep(0.05)  # the server is down: try again
                    continue
                if len(seats) > MAX_SEATS:
                    over.append(len(seats))
                for answer in (seat, machine, held):
                    if answer.status_code not in (200, 201, 409):
                        unexpected.append(answer.text[:200])
                if machine.status_code == 201:
                    acked_machines.add(machine.json()["id"])
                time.sleep(0.02)

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(6)]
    for thread in threads:
        thread.start()
    time.sleep(0.6)
    node.kill()
    node.start()
    time.sleep(0.6)
    stop.set()
    for thread in threads:
        thread.join(30)
    last_checkout = time.monotonic()

    with httpx.Client(base_url=node.base_url + "/api", headers=headers, timeout=30) as api:
        machines = {m["id"] for m in api.get(f"/instances/{instance}/machines").json()["items"]}
        assert acked_machines <= machines  # an acknowledged activation is committed
        assert len(machines) <= MAX_MACHINES
        assert (over, unexpected) == ([], [])
        time.sleep(max(0.0, last_checkout + TTL + 0.2 - time.monotonic()))
        assert api.get(f"/instances/{instance}/leases").json()["items"] == []
        answers = [
            api.post(f"/instances/{instance}/leases", json={"holder": f"after-{n}"}).status_code
            for n in range(MAX_SEATS + 1)
        ]
        assert answers == [201] * MAX_SEATS + [409]
        # the settled amounts are counted, within the limit; nothing else is held
        used = api.get(f"/instances/{instance}/entitlements/{ent}/usage").json()["value"]["value"]
        assert used <= LIMIT
        assert api.get(holds).json()["items"] == []
        if used < LIMIT:
            assert api.post(holds, json={"amount": LIMIT - used}).status_code == 201
        assert api.post(holds, json={"amount": 1}).status_code == 409
