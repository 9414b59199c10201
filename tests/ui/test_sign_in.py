"""Dashboard sign-in with email and password over real HTTP: sessions that can be listed,
revoked and that end when the person is removed; CSRF on every action; roles on every
action; the password rule on a change; throttling per account and per client address.

Each test signs in from its own client address (``X-Forwarded-For``, which the server
honours from 127.0.0.1, uvicorn's default), so that the throttle of one test never refuses
another's sign-ins."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import httpx
from sqlalchemy import create_engine, insert

from meterline.accounts import sign_in
from meterline.accounts.models import SignInFailure
from meterline.db.base import new_id
from tests.conftest import Tenant, unique


def _address() -> str:
    value = uuid.uuid4().int
    return f"10.{value % 250}.{(value >> 8) % 250}.{(value >> 16) % 250 + 1}"


@contextmanager
def _browser(tenant: Tenant, address: str | None = None) -> Iterator[httpx.Client]:
    headers = {"X-Forwarded-For": address or _address()}
    with httpx.Client(
        base_url=tenant.server.base_url, headers=headers, timeout=30, follow_redirects=True
    ) as client:
        yield client


def csrf_in(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None, html[:500]
    return found.group(1)


def _sign_in(browser: httpx.Client, email: str, password: str) -> httpx.Response:
    token = csrf_in(browser.get("/ui/login").text)
    return browser.post(
        "/ui/login",
        data={"email": email, "password": password, "csrf": token},
        follow_redirects=False,
    )


def _seed_failures(tenant: Tenant, address: str, count: int) -> None:
    url = tenant.server.database_url.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            rows = [
                {"id": new_id("signin"), "client_address": address, "at": datetime.now(UTC)}
                for _ in range(count)
            ]
            conn.execute(insert(SignInFailure), rows)
    finally:
        engine.dispose()


def _person(http: httpx.Client, roles: list[str]) -> tuple[str, str, str]:
    email = f"{unique('p')}@example.com"
    made = http.post("/v1/users", json={"type": "user", "email": email, "roles": roles})
    assert made.status_code == 201, made.text
    return made.json()["id"], email, made.json()["password"]


def test_a_person_signs_in_sees_and_ends_sessions_and_changes_password(
    tenant: Tenant, http: httpx.Client
) -> None:
    user_id, email, password = _person(http, ["finance"])
    with _browser(tenant) as browser:
        wrong = _sign_in(browser, email, password + "x")
        assert wrong.status_code == 401 and sign_in.INVALID_CREDENTIALS in wrong.text
        assert _sign_in(browser, "nobody-" + email, password).status_code == 401
        # The sign-in form's own CSRF token: without it, or with another, nothing happens.
        forged = browser.post("/ui/login", data={"email": email, "password": password})
        assert forged.status_code == 403
        hostile = browser.post("/ui/login", data={"email": "é" * 300, "csrf": "ü" * 200})
        assert hostile.status_code == 403

        signed = _sign_in(browser, email.upper(), password)  # email in any case
        assert (signed.status_code, signed.headers["location"]) == (303, "/ui/customers")
        cookie = signed.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/ui" in cookie
        account = browser.get("/ui/account")
        assert email in account.text and '<span id="roles">finance</span>' in account.text
        csrf = csrf_in(account.text)

        with _browser(tenant) as laptop:  # a second session of the same person
            assert _sign_in(laptop, email, password).status_code == 303
            page = browser.get("/ui/account").text
            others = re.findall(r'name="session" value="([0-9a-f]{64})"', page)
            assert len(others) == 1
            # Ending a session needs the CSRF token of the session that asks.
            assert (
                browser.post("/ui/account/sessions/revoke", data={"session": others[0]}).status_code
                == 403
            )
            assert laptop.get("/ui/customers", follow_redirects=False).status_code == 200
            ended = browser.post(
                "/ui/account/sessions/revoke", data={"session": others[0], "csrf": csrf}
            )
            assert ended.status_code == 200 and "Session ended" in ended.text
            assert laptop.get("/ui/customers", follow_redirects=False).status_code == 303

        def change(current: str, new: str) -> httpx.Response:
            return browser.post(
                "/ui/account/password",
                data={
                    "csrf": csrf,
                    "current_password": current,
                    "password": new,
                    "password_confirm": new,
                },
            )

        weak = change(password, "short")
        assert weak.status_code == 400 and "password must have at least 12 characters" in weak.text
        mine = change(password, "xx" + email.split("@")[0] + "yy!")
        assert mine.status_code == 400 and "must not contain the user" in mine.text
        same = change(password, password)
        assert same.status_code == 400 and "must differ from the current one" in same.text
        assert change("not-it-at-all-123", "a fresh pass phrase 42").status_code == 400
        new_password = "a fresh pass phrase 42"
        assert change(password, new_password).status_code == 200

    with _browser(tenant) as browser:
        assert _sign_in(browser, email, password).status_code == 401  # the old one is gone
        assert _sign_in(browser, email, new_password).status_code == 303
        assert browser.get("/ui/customers", follow_redirects=False).status_code == 200
        # Removing the person ends its sessions at the next request.
        assert http.post(f"/v1/users/{user_id}/remove").status_code == 204
        assert browser.get("/ui/customers", follow_redirects=False).status_code == 303
        assert _sign_in(browser, email, new_password).status_code == 401


def test_roles_decide_every_dashboard_action(tenant: Tenant, http: httpx.Client) -> None:
    customer = http.post("/v1/customers", json={"external_id": unique("c"), "name": "C"}).json()

    def draft() -> str:
        made = http.post(
            "/v1/invoices",
            json={
                "customer_id": customer["id"],
                "currency": "usd",
                "amount_due": "5",
                "subtotal": "5",
                "total": "5",
            },
        )
        assert made.status_code == 201, made.text
        invoice_id: str = made.json()["id"]
        return invoice_id

    outcomes = {}
    for role in ("read_only", "developer", "finance", "admin"):
        _, email, password = _person(http, [role])
        invoice_id = draft()
        with _browser(tenant) as browser:
            assert _sign_in(browser, email, password).status_code == 303
            # A person's session shows the production environment first; switch to the
            # tenant's (every role may look at every environment of its organization).
            csrf = csrf_in(browser.get("/ui/account").text)
            switched = browser.post(
                "/ui/account/environment",
                data={"csrf": csrf, "environment_id": tenant.environment_id},
                follow_redirects=False,
            )
            assert switched.status_code == 303
            page = browser.get(f"/ui/customers/{customer['id']}").text
            shows_button = f"/ui/invoices/{invoice_id}/finalize" in page
            finalize = browser.post(f"/ui/invoices/{invoice_id}/finalize", data={"csrf": csrf})
            without_csrf = browser.post(f"/ui/invoices/{draft()}/finalize")
            assert without_csrf.status_code == 403
            profile = browser.get("/ui/settings/profile").text
            # Saved as it stands: the profile is the default organization's, which other
            # tests' invoices print.
            save = browser.post("/ui/settings/profile", data={"csrf": csrf})
            if role == "admin":  # the form is bounded as the wire is: a 400, never a 500
                too_long = browser.post(
                    "/ui/settings/profile", data={"csrf": csrf, "phone": "9" * 300}
                )
                assert too_long.status_code == 400 and "billing_details.phone" in too_long.text
            outcomes[role] = (
                shows_button,
                finalize.status_code,
                "disabled" in profile.split('id="profile"')[1][:400],
                save.status_code,
            )
        status = http.get(f"/v1/invoices/{invoice_id}").json()["invoice_status"]
        assert (status == "FINALIZED") == (finalize.status_code == 200), (role, status)

    assert outcomes == {
        # shows Finalize, finalize answer, profile form disabled, profile save answer
        "read_only": (False, 403, True, 403),
        "developer": (False, 403, True, 403),
        "finance": (True, 200, True, 403),  # the seller's profile is write:billing
        "admin": (True, 200, False, 200),
    }


def test_sign_in_is_throttled_per_account_and_per_address(
    tenant: Tenant, http: httpx.Client
) -> None:
    _, email, password = _person(http, ["read_only"])
    with _browser(tenant) as browser:
        for _ in range(sign_in.MAX_ACCOUNT_FAILURES):
            assert _sign_in(browser, email, "wrong password 123").status_code == 401
    with _browser(tenant) as elsewhere:  # the account's limit holds from any address
        refused = _sign_in(elsewhere, email, password)
        assert refused.status_code == 429 and "Too many failed sign-ins" in refused.text
        assert int(refused.headers["retry-after"]) > 0

    # The address's earlier failures are written straight to the table (each sign-in
    # costs an Argon2id check; twenty of them would be most of this test's time); the
    # last one is a real failed sign-in, so the count is the one the server keeps.
    address = _address()
    _seed_failures(tenant, address, sign_in.MAX_ADDRESS_FAILURES - 1)
    with _browser(tenant, address) as browser:
        assert _sign_in(browser, f"nobody-{email}", "wrong password 123").status_code == 401
        _, fresh_email, fresh_password = _person(http, ["read_only"])
        refused = _sign_in(browser, fresh_email, fresh_password)
        assert refused.status_code == 429 and "for this address" in refused.text
        with httpx.Client(base_url=tenant.server.base_url) as key_browser:
            key_browser.headers["X-Forwarded-For"] = address
            token = csrf_in(key_browser.get("/ui/login").text)
            by_key = key_browser.post("/ui/login", data={"api_key": tenant.key, "csrf": token})
            assert by_key.status_code == 429
    with _browser(tenant) as other_address:
        assert _sign_in(other_address, fresh_email, fresh_password).status_code == 303
