"""The licensing clean-up job: deletes the machines past their resurrection window, the
expired seat leases and the expired reservations.

Nothing depends on it for correctness (a culled machine, an expired lease or hold is no
longer counted whether or not its row is gone); it keeps the tables small. Each tick is
three DELETEs by instant in one transaction: idempotent, safe in several processes at once.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime

from meterline.db.base import utcnow
from meterline.db.engine import Database
from meterline.licensing import leases, machines, reservations

INTERVAL_SECONDS = 60.0


@dataclass
class CullReport:
    machines: int = 0
    leases: int = 0
    holds: int = 0


class LicensingCullJob:
    name = "licensing_cull"
    run_at_start = False

    def __init__(self, db: Database, *, interval: float = INTERVAL_SECONDS) -> None:
        self.db = db
        self.interval = interval
        self.wakeup: threading.Event | None = None
        self.stopping = threading.Event()

    def run_once(self, now: datetime | None = None) -> CullReport:
        now = now or utcnow()
        with self.db.session() as session:
            return CullReport(
                machines.cull(session, now),
                leases.expire(session, now),
                reservations.expire(session, now),
            )

    def close(self) -> None:
        return None
