"""Where a webhook may be delivered: public addresses only, unless the operator allows others.

A URL is judged by every address its host resolves to, not by its text: a name, a decimal or
hexadecimal IPv4 literal and an IPv4-mapped IPv6 address all end as an address, and it is the
address that is loopback, private (RFC 1918, fc00::/7), link-local (169.254.0.0/16 with the
cloud metadata address 169.254.169.254, fe80::/10), unspecified, multicast or otherwise not
public. URLs are judged when an endpoint is registered or changed, and again at every
delivery, because what a name resolves to can change in between; the delivery then connects
to the addresses that were judged, so a second lookup cannot answer differently.

``METERLINE_WEBHOOK_ALLOW_PRIVATE=true`` allows every address (development, tests).
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network
from typing import Any
from urllib.parse import urlsplit

Address = IPv4Address | IPv6Address
# (host, port) for IPv4, (host, port, flow info, scope id) for IPv6
SocketAddress = tuple[Any, ...]

_NAT64 = ip_network("64:ff9b::/96")


class RefusedDestination(Exception):
    """The URL names no reachable host, or one that resolves to a non-public address."""


@dataclass(frozen=True)
class Destination:
    """A URL's host, port and scheme with the addresses it may be reached at."""

    host: str
    port: int
    tls: bool
    target: str  # path and query, as sent in the request line
    addresses: tuple[tuple[int, SocketAddress], ...]  # (address family, socket address)


def address_class(address: Address) -> str | None:
    """Why ``address`` is no public destination (``"loopback"``, ``"private"``, ...), or
    ``None`` when it is one. An IPv6 address that carries an IPv4 one (mapped, 6to4, NAT64)
    is judged by the IPv4 address too."""
    if isinstance(address, IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None and (inner := address_class(embedded)) is not None:
            return inner
    checks = (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
        ("non-public", not address.is_global),
    )
    return next((name for name, hit in checks if hit), None)


def destination(url: str, *, allow_private: bool) -> Destination:
    """Resolves ``url``'s host; raises :class:`RefusedDestination` when it does not resolve
    or (unless ``allow_private``) when any of its addresses is not public."""
    parts = urlsplit(url)
    host = parts.hostname
    if parts.scheme not in ("http", "https") or not host:
        raise RefusedDestination("the URL must be an absolute http(s) URL")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise RefusedDestination("the URL's port is not a valid port number") from exc
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise RefusedDestination(f"the host {host} does not resolve") from exc
    addresses = tuple(
        dict.fromkeys(
            (int(family), tuple(sockaddr))
            for family, _, _, _, sockaddr in found
            if family in (socket.AF_INET, socket.AF_INET6)
        )
    )
    if not allow_private:
        for _, sockaddr in addresses:
            address = ip_address(str(sockaddr[0]).partition("%")[0])
            why = address_class(address)
            if why is not None:
                raise RefusedDestination(
                    f"the host {host} resolves to {address}, a {why} address: webhooks are "
                    "delivered to public addresses only (the operator setting "
                    "METERLINE_WEBHOOK_ALLOW_PRIVATE allows others)"
                )
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Destination(host, port, parts.scheme == "https", target, addresses)
