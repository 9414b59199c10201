"""One delivery attempt over HTTP, bounded in time as a whole.

A socket timeout bounds each read, not the attempt: an endpoint that trickles its answer a
byte at a time could hold a delivery worker for ever. Here a watchdog shuts the socket down
when the attempt's deadline passes, whatever it is waiting for (connecting, the TLS
handshake, sending, the answer). The connection goes to an address :mod:`egress` judged,
never to one looked up again. Redirects are not followed: a 3xx is a failed attempt.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import ssl
import threading
import time
from dataclasses import dataclass

from meterline.webhooks.egress import Destination, RefusedDestination, destination

MAX_RESPONSE_BYTES = 2000


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    error: str | None
    response_body: str | None
    duration_ms: int

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class _Watchdog:
    """Shuts ``sock`` down at ``deadline`` (monotonic seconds) unless cancelled first."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self.fired = False
        self._sock = sock
        self._timer = threading.Timer(max(0.0, deadline - time.monotonic()), self._fire)
        self._timer.daemon = True
        self._timer.start()

    def _fire(self) -> None:
        self.fired = True
        # The plain socket's shutdown, also for a TLS socket: it wakes a blocked read.
        with contextlib.suppress(OSError):
            socket.socket.shutdown(self._sock, socket.SHUT_RDWR)

    def cancel(self) -> None:
        self._timer.cancel()


def _connect(target: Destination, deadline: float) -> socket.socket:
    failure: OSError = OSError(f"no address for {target.host}")
    for family, address in target.addresses:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.settimeout(remaining)
        try:
            sock.connect(address)
        except OSError as exc:
            sock.close()
            failure = exc
            continue
        return sock
    raise failure


def post(
    url: str, body: bytes, headers: dict[str, str], *, timeout: float, allow_private: bool
) -> Outcome:
    """POSTs ``body`` to ``url``; never raises, never takes (much) longer than ``timeout``."""
    started = time.monotonic()
    deadline = started + timeout
    watchdog: _Watchdog | None = None
    sock: socket.socket | None = None
    connection: http.client.HTTPConnection | None = None
    status: int | None = None
    text: str | None = None
    error: str | None = None
    timed_out = False
    try:
        target = destination(url, allow_private=allow_private)
        sock = _connect(target, deadline)
        if target.tls:
            context = ssl.create_default_context()
            sock = context.wrap_socket(
                sock, server_hostname=target.host, do_handshake_on_connect=False
            )
        watchdog = _Watchdog(sock, deadline)
        if isinstance(sock, ssl.SSLSocket):
            sock.do_handshake()
        kind = http.client.HTTPSConnection if target.tls else http.client.HTTPConnection
        connection = kind(target.host, target.port, timeout=timeout)
        connection.sock = sock  # connected (and vetted) already: request() does not connect
        connection.request("POST", target.target, body=body, headers=headers)
        response = connection.getresponse()
        status = int(response.status)
        text = response.read(MAX_RESPONSE_BYTES).decode("utf-8", "replace")
        if not 200 <= status < 300:
            error = f"HTTP {status}"
    except RefusedDestination as exc:
        error = f"refused: {exc}"
    except TimeoutError:
        timed_out = True
    except (OSError, http.client.HTTPException, ValueError) as exc:
        error = str(exc) or type(exc).__name__
    finally:
        if watchdog is not None:
            watchdog.cancel()
        if connection is not None:
            connection.close()  # with the answer it may still hold open
        if sock is not None:
            sock.close()
    elapsed = time.monotonic() - started
    if timed_out or (watchdog is not None and watchdog.fired):
        # Whatever was read before the deadline does not count: the attempt failed.
        status, text, error = None, None, f"timed out after {timeout:g} s"
    return Outcome(status, error[:500] if error else None, text, int(elapsed * 1000))
