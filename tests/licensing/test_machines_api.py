"""Machines over HTTP on SQLite and PostgreSQL: the policy, activation within the machine
and core limits, fingerprints (per instance, and unique across instances where the policy
says so), heartbeats, deactivation, suspension, validation codes, refusals in Kaiten's
shape, and concurrent activations and checkouts that never pass a limit."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from tests.licensing.conftest import licensed_instance, sibling_instance


def _code(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json().get("code")


def _valid(api: httpx.Client, instance: str, **scope: Any) -> dict[str, Any]:
    response = api.post(f"/instances/{instance}/validate", json=scope)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_machines_policy_validation_and_refusals(api: httpx.Client) -> None:
    instance, ent = licensed_instance(
        api, {"maxMachines": 2, "maxCores": 8, "heartbeatIntervalSeconds": 3600}
    )
    lic = f"{ent}-lic"
    policy = api.get(f"/licenses/{lic}/machine-policy").json()
    assert policy == {
        "maxMachines": 2,
        "maxCores": 8,
        "maxSeats": None,
        "heartbeatIntervalSeconds": 3600,
        "resurrectionWindowSeconds": 0,
        "uniqueFingerprint": False,
        "defaultLeaseTtlSeconds": 300,
    }
    machines = f"/instances/{instance}/machines"

    refused = api.post(machines, json={"fingerprint": "a"})  # cores are limited: say them
    assert _code(refused) == (422, "ActivateMachine.CoresRequired")
    assert refused.json()["errors"][0]["location"] == "body.cores"
    first = api.post(machines, json={"fingerprint": "a", "cores": 4, "hostname": "h1"})
    assert first.status_code == 201, first.text
    body = first.json()
    assert (body["status"], body["hostname"], body["cores"]) == ("ALIVE", "h1", 4)
    assert body["heartbeatDueAt"] > body["lastHeartbeatAt"]
    assert _code(api.post(machines, json={"fingerprint": "a", "cores": 1})) == (
        409,
        "ActivateMachine.FingerprintTaken",
    )
    assert _code(api.post(machines, json={"fingerprint": "b", "cores": 5})) == (
        409,
        "ActivateMachine.CoreLimitReached",
    )
    second = api.post(machines, json={"fingerprint": "b", "cores": 4, "platform": "linux"})
    assert second.status_code == 201, second.text
    assert _code(api.post(machines, json={"fingerprint": "c", "cores": 1})) == (
        409,
        "ActivateMachine.MachineLimitReached",
    )
    listed = api.get(machines, params={"limit": 1}).json()
    assert [m["fingerprint"] for m in listed["items"]] == ["a"] and listed["hasMore"]
    assert api.get(f"{machines}/{body['id']}").json()["fingerprint"] == "a"

    # validation: one code, the first rule that fails
    assert _valid(api, instance)["code"] == "VALID"
    mine = _valid(api, instance, fingerprint="a", product=lic, version=1, entitlements=[ent])
    assert (mine["valid"], mine["code"], mine["machine"]["id"]) == (True, "VALID", body["id"])
    assert _valid(api, instance, fingerprint="z")["code"] == "FINGERPRINT_SCOPE_MISMATCH"
    assert _valid(api, instance, product="other-product")["code"] == "PRODUCT_SCOPE_MISMATCH"
    assert _valid(api, instance, version=2)["code"] == "VERSION_SCOPE_MISMATCH"
    missing = _valid(api, instance, entitlements=[ent, "nope"])
    assert (missing["valid"], missing["code"]) == (False, "ENTITLEMENTS_MISSING")
    assert missing["missingEntitlements"] == ["nope"]
    lowered = {"maxMachines": 1, "heartbeatIntervalSeconds": 3600}
    assert api.put(f"/licenses/{lic}/machine-policy", json=lowered).status_code == 200
    assert _valid(api, instance)["code"] == "TOO_MANY_MACHINES"

    # heartbeats and deactivation
    beat = api.post(f"{machines}/{body['id']}/heartbeat")
    assert beat.status_code == 200, beat.text
    assert beat.json()["resurrected"] is False
    assert api.delete(f"{machines}/{second.json()['id']}").status_code == 204
    assert _code(api.post(f"{machines}/{second.json()['id']}/heartbeat")) == (
        404,
        "MachineHeartbeat.MachineNotFound",
    )
    assert _valid(api, instance)["code"] == "VALID"

    # suspension
    assert (
        api.put(f"/instances/{instance}/suspension", json={"reason": "unpaid"}).status_code == 204
    )
    assert _valid(api, instance, fingerprint="a")["code"] == "SUSPENDED"
    assert _code(api.post(machines, json={"fingerprint": "d"})) == (
        409,
        "ActivateMachine.Suspended",
    )
    assert _code(api.post(f"/instances/{instance}/leases", json={"holder": "p"})) == (
        409,
        "CheckOutSeat.Suspended",
    )
    assert api.delete(f"/instances/{instance}/suspension").status_code == 204
    assert _valid(api, instance)["code"] == "VALID"

    # bad input: refused by name, nothing changed
    for bad in (
        {"fingerprint": "e", "colour": "red"},
        {"fingerprint": ""},
        {"fingerprint": "x" * 256},
        {"fingerprint": "e", "cores": 0},
        {"fingerprint": 7},
    ):
        assert api.post(machines, json=bad).status_code == 422, bad
    for bad_policy in ({"maxMachines": -1}, {"heartbeatIntervalSeconds": 0}, {"extra": 1}):
        answer = api.put(f"/licenses/{lic}/machine-policy", json=bad_policy)
        assert answer.status_code == 422, bad_policy
    assert api.post(f"/instances/{instance}/validate", json={"version": 0}).status_code == 422
    assert _code(api.post("/instances/nope/machines", json={"fingerprint": "a"})) == (
        404,
        "ActivateMachine.InstanceNotFound",
    )
    assert _code(api.get(f"{machines}/not-an-id")) == (404, "GetMachine.MachineNotFound")
    assert _code(api.put("/licenses/nope/machine-policy", json={})) == (
        404,
        "UpdateMachinePolicy.LicenseNotFound",
    )
    assert len(api.get(machines).json()["items"]) == 1

    # the machines, seats and suspension go with their instance, the policy with its license
    assert api.post(f"/instances/{instance}/leases", json={"holder": "p"}).status_code == 201
    assert api.put(f"/instances/{instance}/suspension", json={}).status_code == 204
    assert api.delete(f"/instances/{instance}").status_code == 204
    assert api.delete(f"/licenses/{lic}").status_code == 204
    assert _code(api.get(f"/licenses/{lic}/machine-policy")) == (
        404,
        "GetMachinePolicy.LicenseNotFound",
    )


def test_a_fingerprint_is_unique_across_instances_where_the_policy_says_so(
    api: httpx.Client,
) -> None:
    instance, ent = licensed_instance(api, {"uniqueFingerprint": True})
    other = sibling_instance(api, instance)
    assert api.post(f"/instances/{instance}/machines", json={"fingerprint": "f"}).status_code == 201
    assert _code(api.post(f"/instances/{other}/machines", json={"fingerprint": "f"})) == (
        409,
        "ActivateMachine.FingerprintTaken",
    )
    # without the rule, one fingerprint may run under several instances
    assert api.put(f"/licenses/{ent}-lic/machine-policy", json={}).status_code == 200
    assert api.post(f"/instances/{other}/machines", json={"fingerprint": "f"}).status_code == 201


def test_concurrent_activations_and_checkouts_never_pass_the_limits(api: httpx.Client) -> None:
    instance, _ = licensed_instance(api, {"maxMachines": 5, "maxSeats": 3})
    base = str(api.base_url)
    headers = dict(api.headers)

    def post(path: str, body: dict[str, Any]) -> int:
        with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
            return client.post(path, json=body).status_code

    with ThreadPoolExecutor(max_workers=16) as pool:
        activations = list(
            pool.map(
                lambda n: post(f"/instances/{instance}/machines", {"fingerprint": f"m{n}"}),
                range(16),
            )
        )
        checkouts = list(
            pool.map(
                lambda n: post(f"/instances/{instance}/leases", {"holder": f"p{n}"}), range(12)
            )
        )
    assert sorted(activations) == [201] * 5 + [409] * 11
    assert sorted(checkouts) == [201] * 3 + [409] * 9
    assert len(api.get(f"/instances/{instance}/machines").json()["items"]) == 5
    assert len(api.get(f"/instances/{instance}/leases").json()["items"]) == 3
