"""The hot check reads: keys, customers' grants and usage kept in memory, never stale.

``GET /v1/customers/usage`` and ``POST /v1/entitlements/check`` are what a vendor's
application asks on every request of its own users. Through the ORM an answer costs about
2 ms of Python (a session, the customer, its subscriptions, plans, grants, features and
meters); from memory it costs tens of microseconds. Memory may answer only while nothing
it was built from has changed, in this process or in any other:

* A key's principal and a customer's ``Snapshot`` (the customer, its aggregated grants and
  each metered grant's usage window) are built only from the tables this read model
  declares (``READS``, in ``entitlements/reads.py``), and stamped with the catalog versions
  (``db/catalog_version.py``, whose watch is derived from that declaration): the global
  one, which any committed write to a key, feature, meter, plan or grant moves, and for a snapshot also its customer's, which a
  write to that customer or its subscriptions moves. A request reads the stored global
  version first and drops every stamp that differs; a snapshot's customer version is read
  again once something was committed. A snapshot also expires at the first instant the
  clock alone could change its answer: a usage window's end, a scheduled cancellation, an
  end date, a trial's end.
* Usage is kept in memory only on SQLite with the SQL event store. There one question,
  ``PRAGMA data_version`` (it changes whenever any other connection, of any process, has
  committed anything), tells whether anything at all was written since the last request;
  if so the kept usage is dropped and the catalog version read again. So a check that
  starts after an ingest was acknowledged always sees it. With PostgreSQL several
  processes ingest, and with ClickHouse the events live elsewhere: usage is read from the
  aggregates every time.

On SQLite the reads run on the event loop with one dedicated read connection (a
statement costs microseconds: cheaper than the hop to a worker thread). On PostgreSQL a
request takes one worker-thread hop and a pooled connection.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal, TypeVar

import anyio
from sqlalchemy import Connection
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from meterline.accounts import service as accounts
from meterline.accounts.principal import Principal
from meterline.customers import service as customers
from meterline.customers.models import Customer
from meterline.db import catalog_version
from meterline.db.base import utcnow
from meterline.db.engine import Database
from meterline.entitlements import checks
from meterline.entitlements.checks import FeatureAccess
from meterline.entitlements.reads import READS
from meterline.kernel.errors import NotFound, Unauthenticated
from meterline.kernel.instants import to_micros
from meterline.metering.aggregations import MeterSpec
from meterline.metering.backend import reader_for
from meterline.metering.query import UsageQuery
from meterline.metering.service import meter_spec
from meterline.settings import Settings

T = TypeVar("T")
CustomerRef = Literal["id", "external_id"]

# Bounds on what one process keeps (oldest dropped first). A snapshot of two grants keeps
# ~6 KB (features, meters and plan grants are shared between snapshots): ~30 MB at most.
MAX_SNAPSHOTS = 5_000
MAX_USAGE = 100_000
MAX_PRINCIPALS = 10_000


@dataclass
class Snapshot:
    """One customer's aggregated grants as of the global and the customer's version."""

    version: int
    customer_version: int
    checked: int | None  # SQLite: the data_version at which customer_version was last read
    customer: Customer
    accesses: tuple[FeatureAccess, ...]  # sorted as ``checks.customer_access`` sorts
    by_feature: dict[str, FeatureAccess]
    by_lookup_key: dict[str, FeatureAccess]
    specs: dict[str, MeterSpec]  # feature id → meter, for grants that read usage
    valid_until: datetime | None
    # What the API layer renders once per snapshot (a grant's usage-free parts; answers).
    rendered: dict[Any, Any] = field(default_factory=dict)


class HotReads:
    """The in-memory reads of one process (``app.state.hot``)."""

    # The tables principals and snapshots are built from; what invalidates them.
    READS = READS

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.inline = db.is_sqlite
        self._loop_thread = threading.get_ident()  # built in the lifespan, on the loop
        self.usage_in_memory = db.is_sqlite and settings.events.store == "sql"
        self._reader = reader_for(db.dialect, settings.events)
        self._conn: Connection | None = None
        self._pragma: Any = None  # a DBAPI cursor of _conn, kept: asked on every request
        self._version: int | None = None
        self._data_version: int | None = None
        self._principals: dict[str, tuple[int, Principal, datetime | None]] = {}
        self._snapshots: dict[tuple[str, CustomerRef, str], Snapshot] = {}
        self._usage: dict[tuple[str, str, int, int], Decimal] = {}
        self._reads: dict[Hashable, tuple[Any, datetime | None]] = {}  # see kept()
        self._shared: dict[tuple[type, str], Any] = {}  # rows snapshots share, per version

    async def run(
        self, work: Callable[[Reader], T], limiter: anyio.CapacityLimiter | None = None
    ) -> T:
        """Run ``work`` with fresh caches: inline on SQLite, in a worker thread otherwise
        (holding a token of ``limiter``, which bounds the requests that hold a session)."""
        if self.inline:
            return self._run_inline(work)
        if limiter is None:
            return await run_in_threadpool(self._run_pooled, work)
        async with limiter:
            return await run_in_threadpool(self._run_pooled, work)

    def principal_now(self, key: str | None) -> Principal | None:
        """The key's principal from memory, for any route, when called on SQLite from the
        event loop's thread (the one the dedicated connection belongs to); None elsewhere,
        and the caller reads the database. Raises ``Unauthenticated`` as that read would."""
        if not self.inline or threading.get_ident() != self._loop_thread:
            return None
        return self._run_inline(lambda reader: reader.principal(key))

    def kept(self, key: Hashable, read: Callable[[Any], tuple[T, datetime | None]]) -> T:
        """``read(dbapi_connection)`` → (value, expiry), kept until anything is committed
        or it expires.

        For other hot reads that are a pure function of the database and the clock (the
        Kaiten usage read). On SQLite, from the event loop's thread, ``read`` gets the
        dedicated connection (outside any transaction: each statement sees the latest
        commit) and its value is kept while ``PRAGMA data_version`` stands still;
        elsewhere every call reads, on a pooled connection."""
        if not self.inline or threading.get_ident() != self._loop_thread:
            pooled = self.db.read_engine.raw_connection()
            try:
                return read(pooled.dbapi_connection)[0]
            finally:
                pooled.close()

        def work(reader: Reader) -> T:
            hit = self._reads.get(key)
            if hit is not None and (hit[1] is None or utcnow() < hit[1]):
                value: T = hit[0]
                return value
            value, expiry = read(reader.conn.connection.dbapi_connection)
            _put(self._reads, key, (value, expiry), MAX_USAGE)
            return value

        return self._run_inline(work)

    def close(self) -> None:
        if self._pragma is not None:
            self._pragma.close()
            self._pragma = None
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # -- freshness --------------------------------------------------------------------------

    def _run_inline(self, work: Callable[[Reader], T]) -> T:
        if self._conn is None:
            self._conn = self.db.read_engine.connect()
        conn = self._conn
        if self._pragma is None:
            raw = conn.connection.dbapi_connection
            assert raw is not None
            self._pragma = raw.cursor()
        data_version = self._pragma.execute("PRAGMA data_version").fetchone()[0]
        if data_version != self._data_version:
            # Something was committed since: kept usage may be stale, keys and grants may be.
            self._usage.clear()
            self._reads.clear()
            self._note_version(catalog_version.read(conn.connection.dbapi_connection))
            self._data_version = data_version
        try:
            return work(Reader(self, conn))
        finally:
            if conn.in_transaction():
                conn.rollback()

    def _run_pooled(self, work: Callable[[Reader], T]) -> T:
        with self.db.read_engine.connect() as conn:
            raw = conn.connection.dbapi_connection
            assert raw is not None
            self._note_version(catalog_version.read(raw))
            try:
                return work(Reader(self, conn))
            finally:
                conn.rollback()

    def _note_version(self, version: int | None) -> None:
        if version != self._version or version is None:
            self._principals.clear()
            self._snapshots.clear()
            self._shared.clear()
            self._version = version


class Reader:
    """One request's view: the caches, and a connection for what they lack."""

    def __init__(self, hot: HotReads, conn: Connection) -> None:
        self.hot = hot
        self.conn = conn
        self.version = hot._version

    def principal(self, key: str | None) -> Principal:
        if not key:
            raise Unauthenticated("An API key is required")
        digest = accounts.hash_key(key)
        kept = self.hot._principals.get(digest)
        if kept is not None and kept[0] == self.version:
            _, principal, expires_at = kept
        else:
            principal, expires_at = accounts.credentials(self.conn, digest)
            if self.version is not None:
                _put(
                    self.hot._principals,
                    digest,
                    (self.version, principal, expires_at),
                    MAX_PRINCIPALS,
                )
        if expires_at is not None and expires_at <= utcnow():
            raise Unauthenticated("API key has expired")
        return principal

    def snapshot(self, principal: Principal, ref: CustomerRef, value: str) -> Snapshot:
        """The customer's grants (``NotFound`` for an unknown customer, as the ORM path)."""
        key = (principal.environment_id, ref, value)
        kept = self.hot._snapshots.get(key)
        now = utcnow()
        if (
            kept is not None
            and kept.version == self.version
            and (kept.valid_until is None or now < kept.valid_until)
            and self._customer_unchanged(kept)
        ):
            return kept
        snapshot = self._build(principal, ref, value, now)
        if self.version is not None:
            _put(self.hot._snapshots, key, snapshot, MAX_SNAPSHOTS)
        return snapshot

    def _build(self, principal: Principal, ref: CustomerRef, value: str, now: datetime) -> Snapshot:
        # On the request's own connection: a second pooled one could run out under load.
        with Session(bind=self.conn, expire_on_commit=False) as session:
            customer_id = value
            if ref == "external_id":
                customer_id = customers.get_customer_by_external_id(session, principal, value).id
            # The customer's version is read before what the snapshot holds is loaded, so a
            # change committed in between leaves the snapshot stamped older (rebuilt next
            # time), never newer than its contents.
            customer_version = self._customer_version(customer_id)
            session.expire_all()
            customer = customers.get_customer(session, principal, customer_id)
            if customer.external_id != value and ref == "external_id":
                raise NotFound("customer", value)  # its external id changed in between
            accesses = checks.customer_access(session, principal, customer)
            self._share(accesses)
            specs: dict[str, MeterSpec] = {}
            bounds: list[datetime] = []
            for access in accesses:
                for source in access.sources:
                    sub = source.subscription
                    bounds += [t for t in (sub.cancel_at, sub.end_date, sub.trial_end) if t]
                    if source.until is not None:  # an add-on removed at a later instant
                        bounds.append(source.until)
                if checks.needs_usage(access) and access.sources:
                    assert access.meter is not None
                    access.window = checks.window_for(access, now)
                    specs[access.feature.id] = meter_spec(access.meter)
                    bounds.append(access.window.end)
            # Detach what was loaded, so that closing the session does not expire it.
            session.expunge_all()
        later = [moment for moment in bounds if moment > now]
        return Snapshot(
            version=self.version or 0,
            customer_version=customer_version,
            checked=self.hot._data_version,
            customer=customer,
            accesses=tuple(accesses),
            by_feature={a.feature.id: a for a in accesses},
            by_lookup_key={a.feature.lookup_key: a for a in accesses if a.feature.lookup_key},
            specs=specs,
            valid_until=min(later) if later else None,
        )

    def _customer_version(self, customer_id: str) -> int:
        raw = self.conn.connection.dbapi_connection
        return catalog_version.read_customer(raw, customer_id)

    def _customer_unchanged(self, kept: Snapshot) -> bool:
        """Whether the customer's own version still is the snapshot's. On SQLite it is read
        only once per commit seen (``PRAGMA data_version``); elsewhere on every request."""
        if self.hot.inline and kept.checked == self.hot._data_version:
            return True
        if self._customer_version(kept.customer.id) != kept.customer_version:
            return False
        if self.hot.inline:
            kept.checked = self.hot._data_version
        return True

    def _share(self, accesses: list[FeatureAccess]) -> None:
        """Point every snapshot at one copy of each feature, meter and grant (a loaded row
        weighs ~3 KB; customers on one plan share all of them but their subscription)."""
        shared = self.hot._shared

        def one(row: Any) -> Any:
            return shared.setdefault((type(row), row.id), row)

        for access in accesses:
            access.feature = one(access.feature)
            access.meter = one(access.meter) if access.meter is not None else None
            access.sources = [
                checks.Source(s.subscription, one(s.grant), s.entity_name) for s in access.sources
            ]

    def usage(self, snapshot: Snapshot, access: FeatureAccess) -> Decimal:
        """The current usage of a grant (0 for one that reads none)."""
        spec = snapshot.specs.get(access.feature.id)
        if spec is None or access.window is None:
            return access.current_usage
        start, end = to_micros(access.window.start), to_micros(access.window.end)
        customer = snapshot.customer.external_id
        key = (spec.id, customer, start, end)
        usage = self.hot._usage.get(key) if self.hot.usage_in_memory else None
        if usage is None:
            query = UsageQuery(meter=spec, start=start, end=end, customer=customer)
            usage = self.hot._reader.query(self.conn, query).value
            if self.hot.usage_in_memory:
                _put(self.hot._usage, key, usage, MAX_USAGE)
        return usage


def _put(cache: dict[Any, Any], key: object, value: object, bound: int) -> None:
    if len(cache) >= bound:
        cache.pop(next(iter(cache)))
    cache[key] = value
