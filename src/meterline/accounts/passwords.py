"""Dashboard users' passwords: Argon2id hashes (argon2-cffi), a strength rule, and the
generated first password that ``create_user`` returns once.

Only the hash is stored (its parameters are part of it, so raising them later re-hashes a
password at its next successful check: :func:`needs_rehash`).
"""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from meterline.kernel.errors import InvalidRequest

MIN_LENGTH = 12
MAX_LENGTH = 256  # bounded: Argon2 hashes any length, a request body should not
# Passwords refused whatever their length: the most common ones that pass the length rule.
COMMON = frozenset(
    {
        "password1234",
        "passwordpassword",
        "123456789012",
        "qwertyuiopas",
        "iloveyou1234",
        "administrator",
        "letmein12345",
        "changeme1234",
        "welcome12345",
        "meterline123",
    }
)

_hasher = PasswordHasher()  # RFC 9106's second recommended profile: 64 MiB, t=3, p=4


def weakness(password: str, *, email: str | None = None, name: str | None = None) -> str | None:
    """Why ``password`` is refused, or ``None``. The rule: 12 to 256 characters, at least 5
    different ones, not a common password, not containing the user's email name or name."""
    if len(password) < MIN_LENGTH:
        return f"must have at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"must have at most {MAX_LENGTH} characters"
    if len(set(password)) < 5:
        return "must have at least 5 different characters"
    lowered = password.lower()
    if lowered in COMMON:
        return "is a common password"
    personal = [email.split("@")[0] if email else "", name or ""]
    if any(len(p) >= 3 and p.lower() in lowered for p in personal):
        return "must not contain the user's name or email"
    return None


def check(password: str, *, email: str | None = None, name: str | None = None) -> None:
    """Raises a 400 naming ``password`` and the rule it breaks."""
    reason = weakness(password, email=email, name=name)
    if reason is not None:
        raise InvalidRequest(f"password {reason}", field="password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify(stored_hash: str | None, password: str) -> bool:
    """Whether ``password`` is the one ``stored_hash`` was made from (constant time)."""
    if not stored_hash:
        return False
    try:
        return _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return _hasher.check_needs_rehash(stored_hash)


def generate() -> str:
    """A first password: 24 URL-safe random characters (~143 bits), which passes the rule."""
    while True:
        candidate = secrets.token_urlsafe(18)
        if weakness(candidate) is None:
            return candidate
