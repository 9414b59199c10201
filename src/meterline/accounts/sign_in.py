"""Signing in to the dashboard, and the sessions that follow.

Two ways in: a person's email and password (Argon2id, accounts/passwords.py), or an API key
of the environment to view (the way the dashboard first worked, kept for operators and
scripts). Either opens a server-side session row (``ui_sessions``): the browser holds only a
random token, the table only its SHA-256. A session ends when it expires
(:data:`SESSION_LIFETIME`), when it is revoked (sign-out, the sessions page, a password
change ends the person's other sessions), when its key is revoked, or when its person is
removed; a person's roles are read again at every request, so a change of roles applies at
the next one.

Sign-in is throttled in the database, so every process of a deployment counts the same
failures: :data:`MAX_ACCOUNT_FAILURES` failures naming one email, or
:data:`MAX_ADDRESS_FAILURES` from one client address, within :data:`FAILURE_WINDOW` refuse
further attempts (429) until the oldest leaves the window — before the password is
checked, so a throttled attacker learns nothing even from the right password. A successful
sign-in clears its email's failures.

Every form of the dashboard carries a CSRF token derived from the session token
(:func:`csrf_of`): a page the session rendered can act, a page elsewhere cannot, since it
never sees the HttpOnly cookie the token comes from.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy.orm import Session

from meterline.accounts import passwords, repository
from meterline.accounts import service as accounts
from meterline.accounts.models import Environment, SignInFailure, UiSession, User
from meterline.accounts.principal import Principal
from meterline.accounts.roles import scopes_of
from meterline.db.base import utcnow
from meterline.kernel.errors import (
    InvalidOperation,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    TooManyRequests,
    Unauthenticated,
)

SESSION_LIFETIME = timedelta(hours=12)
FAILURE_WINDOW = timedelta(minutes=15)
MAX_ACCOUNT_FAILURES = 5
MAX_ADDRESS_FAILURES = 20
MAX_EMAIL_LENGTH = 255
MAX_ACCOUNTS_PER_EMAIL = 10  # an email may be a member of several organizations
MAX_SESSIONS_LISTED = 50
INVALID_CREDENTIALS = "Invalid email or password"


@dataclass(frozen=True)
class Caller:
    """Who a dashboard request acts as."""

    principal: Principal
    user: User | None  # the person, for a password session
    token_hash: str
    csrf: str

    @property
    def roles(self) -> list[str]:
        return list(self.user.roles or ()) if self.user is not None else []


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def csrf_of(token: str) -> str:
    """The CSRF token of a session: a digest of its token (never sent in a cookie)."""
    return _digest(f"csrf:{token}")


def check_csrf(expected: str, presented: str | None) -> None:
    if not presented or not hmac.compare_digest(
        expected.encode("utf-8"), presented[:128].encode("utf-8")
    ):
        raise PermissionDenied("The form has expired; reload the page and try again")


@cache
def _decoy_hash() -> str:
    # Checked for an unknown email, so that a miss costs what a wrong password costs.
    return passwords.hash_password(secrets.token_urlsafe(24))


def _throttle(session: Session, email: str | None, address: str, now: datetime) -> None:
    since = now - FAILURE_WINDOW
    checks = [(SignInFailure.client_address == address, MAX_ADDRESS_FAILURES, "address")]
    if email is not None:
        checks.insert(0, (SignInFailure.email == email, MAX_ACCOUNT_FAILURES, "account"))
    for where, limit, what in checks:
        if repository.count_sign_in_failures(session, since, where) >= limit:
            retry = math.ceil(FAILURE_WINDOW.total_seconds())
            raise TooManyRequests(
                f"Too many failed sign-ins for this {what}; try again in {retry // 60} minutes",
                retry_after=retry,
            )


def record_failure(
    session: Session, email: str | None, address: str, now: datetime | None = None
) -> None:
    """Counts a failed attempt (the caller commits it even though the sign-in failed), and
    forgets those that have left the window."""
    now = now or utcnow()
    repository.delete_sign_in_failures(session, SignInFailure.at <= now - FAILURE_WINDOW)
    repository.add_sign_in_failure(session, email, address[:64], now)
    session.flush()


def _open(
    session: Session, environment_id: str, address: str, now: datetime, **who: str | None
) -> str:
    repository.delete_ui_sessions(session, UiSession.expires_at < now)
    token = secrets.token_urlsafe(32)
    session.add(
        UiSession(
            token_hash=_digest(token),
            environment_id=environment_id,
            client_address=address[:64],
            created_at=now,
            expires_at=now + SESSION_LIFETIME,
            **who,
        )
    )
    session.flush()
    return token


def check_password(
    session: Session, email: str, password: str, address: str, now: datetime | None = None
) -> User:
    """The person with this email and password. Reads only, so that the Argon2id check
    (64 MiB, tens of milliseconds) never holds a write transaction; the caller then opens
    the session (:func:`open_password_session`) or records the failure
    (:func:`record_failure`), each in a short write. Unauthenticated or TooManyRequests."""
    now = now or utcnow()
    email = normal_email(email)
    _throttle(session, email, address, now)
    if not email or not password or len(password) > passwords.MAX_LENGTH:
        raise Unauthenticated(INVALID_CREDENTIALS)
    candidates = repository.users_by_email(session, email, MAX_ACCOUNTS_PER_EMAIL)
    user = next((u for u in candidates if passwords.verify(u.password_hash, password)), None)
    if not candidates:
        passwords.verify(_decoy_hash(), password)
    if user is None:
        raise Unauthenticated(INVALID_CREDENTIALS)
    return user


def normal_email(email: str) -> str:
    return email.strip().lower()[:MAX_EMAIL_LENGTH]


def open_password_session(
    session: Session, user_id: str, password: str, address: str, now: datetime | None = None
) -> str:
    """Opens a session for a person :func:`check_password` found; the session token."""
    now = now or utcnow()
    user = session.get(User, user_id)
    if user is None or user.deleted_at is not None or user.password_hash is None:
        raise Unauthenticated(INVALID_CREDENTIALS)
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    environment = repository.environment_by_type(
        session, user.organization_id, "production"
    ) or next(iter(repository.environments_of(session, user.organization_id)), None)
    if environment is None:
        raise Unauthenticated(INVALID_CREDENTIALS)
    if user.email:
        repository.delete_sign_in_failures(session, SignInFailure.email == normal_email(user.email))
    return _open(session, environment.id, address, now, user_id=user.id)


def sign_in_with_key(session: Session, key: str, address: str, now: datetime | None = None) -> str:
    """Opens a session with an API key of the environment to view (a vendor key that may
    read billing); the session token."""
    now = now or utcnow()
    _throttle(session, None, address, now)
    key = key.strip()[:512]
    principal = accounts.authenticate(session, key)
    if principal.is_customer_scoped or not principal.may("read", "billing"):
        raise PermissionDenied("This key may not read billing data")
    return _open(session, principal.environment_id, address, now, key_hash=accounts.hash_key(key))


def caller_of(session: Session, token: str | None, now: datetime | None = None) -> Caller:
    """Who a session token acts as; Unauthenticated if it is unknown, expired or revoked,
    if its key was revoked or its person removed since."""
    if not token or len(token) > 128:
        raise Unauthenticated("Sign in first")
    digest = _digest(token)
    row = repository.ui_session(session, digest)
    if row is None or row.expires_at <= (now or utcnow()):
        raise Unauthenticated("The session has ended; sign in again")
    if row.key_hash is not None:
        principal = accounts.authenticate_digest(session, row.key_hash)
        return Caller(principal, None, digest, csrf_of(token))
    user = session.get(User, row.user_id) if row.user_id else None
    if user is None or user.deleted_at is not None:
        raise Unauthenticated("The session has ended; sign in again")
    principal = Principal(
        organization_id=user.organization_id,
        environment_id=row.environment_id,
        key_id=f"session_{digest[:16]}",
        user_id=user.id,
        scopes=frozenset(scopes_of(user.roles or ())),
    )
    return Caller(principal, user, digest, csrf_of(token))


def sign_out(session: Session, token: str | None) -> None:
    if token and len(token) <= 128:
        repository.delete_ui_sessions(session, UiSession.token_hash == _digest(token))


def sessions_of(session: Session, caller: Caller, now: datetime | None = None) -> list[UiSession]:
    """The caller's person's live sessions (a key session sees only itself)."""
    if caller.user is None:
        row = repository.ui_session(session, caller.token_hash)
        return [row] if row is not None else []
    return repository.ui_sessions_of_user(
        session, caller.user.id, now or utcnow(), MAX_SESSIONS_LISTED
    )


def revoke_session(session: Session, caller: Caller, token_hash: str) -> None:
    """Ends one of the caller's own sessions (its person's); another's is not found."""
    row = repository.ui_session(session, token_hash[:64])
    own = row is not None and (
        row.token_hash == caller.token_hash
        or (caller.user is not None and row.user_id == caller.user.id)
    )
    if row is None or not own:
        raise NotFound("session", token_hash[:16])
    repository.delete_ui_sessions(session, UiSession.token_hash == row.token_hash)


def switch_environment(session: Session, caller: Caller, environment_id: str) -> None:
    """Shows another environment of the person's organization (a key session stays in its
    key's environment)."""
    if caller.user is None:
        raise InvalidOperation("A session opened with an API key stays in its environment")
    found = repository.environment(session, caller.principal.organization_id, environment_id)
    if found is None:
        raise NotFound("environment", environment_id[:64])
    row = repository.ui_session(session, caller.token_hash)
    if row is not None:
        row.environment_id = found.id
    session.flush()


def environments_of(session: Session, caller: Caller) -> list[Environment]:
    return list(repository.environments_of(session, caller.principal.organization_id))


def change_password(session: Session, caller: Caller, current: str, new: str) -> None:
    """Sets the person's password: the current one must be right, the new one must pass
    the rule and differ from it. Ends the person's other sessions."""
    # The caller was read in another transaction: change the row of this one.
    user = session.get(User, caller.user.id) if caller.user is not None else None
    if user is None:
        raise InvalidOperation("A session opened with an API key has no password to change")
    if len(current) > passwords.MAX_LENGTH or not passwords.verify(user.password_hash, current):
        raise InvalidRequest("the current password is wrong", field="current_password")
    passwords.check(new, email=user.email, name=user.name)
    if passwords.verify(user.password_hash, new):
        raise InvalidRequest("password must differ from the current one", field="password")
    user.password_hash = passwords.hash_password(new)
    repository.delete_ui_sessions(
        session, UiSession.user_id == user.id, UiSession.token_hash != caller.token_hash
    )
    session.flush()
