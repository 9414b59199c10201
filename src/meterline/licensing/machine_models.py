"""Tables of machine licensing: a license's machine policy, the machines activated under an
instance, the floating seats leased from it, and instance suspensions.

A license version is the policy (Keygen's *policy*); an instance is the licensed deployment
(Keygen's *license*): limits are stated per license and hold per instance.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from meterline.db.base import Base, TimestampMixin, UTCDateTime, id_column, utcnow


class MachinePolicy(TimestampMixin, Base):
    """How many machines, cores and floating seats each instance of a license may hold, and
    how machines prove they are alive. ``None`` limits are unlimited."""

    __tablename__ = "machine_policies"

    license_id: Mapped[str] = mapped_column(
        ForeignKey("licenses.id", ondelete="CASCADE"), primary_key=True
    )
    environment_id: Mapped[str] = mapped_column(String(40))
    max_machines: Mapped[int | None] = mapped_column(Integer, default=None)
    max_cores: Mapped[int | None] = mapped_column(Integer, default=None)
    max_seats: Mapped[int | None] = mapped_column(Integer, default=None)
    # None: machines need no heartbeat and never die.
    heartbeat_interval_seconds: Mapped[int | None] = mapped_column(Integer, default=None)
    # How long after its death a machine may come back with a heartbeat (0: never).
    resurrection_window_seconds: Mapped[int] = mapped_column(Integer, default=0)
    # A fingerprint is active under one instance of the environment at most.
    unique_fingerprint: Mapped[bool] = mapped_column(default=False)
    default_lease_ttl_seconds: Mapped[int] = mapped_column(Integer, default=300)


class Machine(Base):
    """One activated machine of an instance."""

    __tablename__ = "machines"
    __table_args__ = (
        Index("uq_machines_instance_fingerprint", "instance_id", "fingerprint", unique=True),
        # Set only under a policy with unique fingerprints: two such activations of one
        # fingerprint under different instances cannot both commit (NULLs never collide).
        Index("uq_machines_fingerprint_claim", "environment_id", "fingerprint_claim", unique=True),
        Index("ix_machines_env_fingerprint", "environment_id", "fingerprint"),
        Index("ix_machines_cull_at", "cull_at"),
    )

    id: Mapped[str] = id_column("mach")
    environment_id: Mapped[str] = mapped_column(String(40))
    instance_id: Mapped[str] = mapped_column(ForeignKey("instances.id", ondelete="CASCADE"))
    fingerprint: Mapped[str] = mapped_column(String(255))
    fingerprint_claim: Mapped[str | None] = mapped_column(String(255), default=None)
    hostname: Mapped[str | None] = mapped_column(String(255), default=None)
    platform: Mapped[str | None] = mapped_column(String(100), default=None)
    cores: Mapped[int | None] = mapped_column(Integer, default=None)
    activated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Dead after this instant without a heartbeat; None: no heartbeat is required.
    dies_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    # Gone (no longer counted, no longer resurrectable) after this instant.
    cull_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    created_by: Mapped[str | None] = mapped_column(String(40), default=None)


class SeatLease(Base):
    """A floating seat checked out of an instance until ``expires_at``."""

    __tablename__ = "seat_leases"
    __table_args__ = (
        Index("uq_seat_leases_holder", "instance_id", "holder", unique=True),
        Index("ix_seat_leases_expires_at", "expires_at"),
    )

    id: Mapped[str] = id_column("lease")
    environment_id: Mapped[str] = mapped_column(String(40))
    instance_id: Mapped[str] = mapped_column(ForeignKey("instances.id", ondelete="CASCADE"))
    holder: Mapped[str] = mapped_column(String(255))
    checked_out_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    renewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


class InstanceSuspension(Base):
    """An instance whose license is suspended: it validates as ``SUSPENDED`` and activates
    nothing until it is reinstated."""

    __tablename__ = "instance_suspensions"

    instance_id: Mapped[str] = mapped_column(
        ForeignKey("instances.id", ondelete="CASCADE"), primary_key=True
    )
    environment_id: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str | None] = mapped_column(String(500), default=None)
    suspended_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    suspended_by: Mapped[str | None] = mapped_column(String(40), default=None)
