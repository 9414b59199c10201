"""Domain errors. Services raise these; each API dialect renders them in its own shape."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FieldProblem:
    """One invalid input: ``location`` like ``body.events[3].event_name``."""

    location: str
    message: str
    value: Any = None

    @property
    def field(self) -> str:
        """The location without its ``body.``/``query.``/``path.`` prefix."""
        head, _, rest = self.location.partition(".")
        return rest if head in ("body", "query", "path", "header") and rest else self.location


class DomainError(Exception):
    """Base of every error a client can cause.

    ``reason`` says why in the domain's own words (``in_use``, ``not_a_draft``); a dialect
    that answers with codes of its own maps the kind, resource and reason to them.
    """

    kind = "invalid_request"
    status = 400

    def __init__(
        self, message: str, *, details: dict[str, Any] | None = None, reason: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}
        self.reason = reason


class InvalidRequest(DomainError):
    """The request is well formed but a value is wrong; ``field`` names it."""

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        details: dict[str, Any] | None = None,
        reason: str | None = None,
    ) -> None:
        merged = dict(details or {})
        if field is not None:
            merged.setdefault("field", field)
        super().__init__(message, details=merged, reason=reason)
        self.field = field

    def within(self, prefix: str) -> InvalidRequest:
        """The same refusal of one item of a batch, its field named ``prefix.field``
        (``items[2].feature_id``)."""
        return InvalidRequest(
            self.message,
            field=f"{prefix}.{self.field}",
            details={k: v for k, v in self.details.items() if k != "field"},
        )


class InvalidOperation(DomainError):
    """The request is valid but the resource's state does not allow it."""

    kind = "invalid_operation"


class NotFound(DomainError):
    """No ``resource`` (a noun: ``"license"``, ``"license version"``) is ``identifier``."""

    kind = "not_found"
    status = 404

    def __init__(self, resource: str, identifier: str) -> None:
        super().__init__(f"{resource.capitalize()} with ID {identifier} was not found")
        self.resource = resource
        self.identifier = identifier


class AlreadyExists(DomainError):
    kind = "already_exists"
    status = 409


class Conflict(DomainError):
    """The resource's state refuses the request; ``reason`` names the rule."""

    kind = "conflict"
    status = 409


class Unauthenticated(DomainError):
    kind = "unauthenticated"
    status = 401


class PermissionDenied(DomainError):
    kind = "permission_denied"
    status = 403


class PayloadTooLarge(DomainError):
    kind = "payload_too_large"
    status = 413


class RetryLater(DomainError):
    """Not now: the client should try again after ``retry_after`` seconds."""

    def __init__(self, message: str, *, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class TooManyRequests(RetryLater):
    kind = "too_many_requests"
    status = 429


class Unavailable(RetryLater):
    """The process cannot serve this request now (e.g. its writer has stopped)."""

    kind = "unavailable"
    status = 503
