"""The security headers of every dashboard page: no framing, no sniffing, and a content
policy that allows only this server (the pages carry inline styles and no scripts of
another origin)."""

from __future__ import annotations

from starlette.responses import Response

POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def secured(response: Response) -> Response:
    response.headers.update(HEADERS)
    return response
