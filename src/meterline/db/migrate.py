"""Run the Alembic migrations programmatically (``meterline migrate`` and ``serve``).

On PostgreSQL the upgrade holds an advisory lock, so that several processes starting at
once (``serve`` on several hosts, ``migrate`` beside them) migrate one after the other: the
first does the work, the others find the schema at head.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, pool

MIGRATIONS = Path(__file__).parent / "migrations"
_LOCK = "SELECT pg_advisory_{}(hashtext('meterline:migrate'))"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["url"] = url
    return cfg


def upgrade(url: str) -> None:
    """Bring the database at ``url`` to the newest schema; creates a SQLite file if missing."""
    cfg = alembic_config(url)
    if not url.startswith("postgresql"):
        command.upgrade(cfg, "head")
        return
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(_LOCK.format("lock"))
            conn.commit()
            try:
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
                conn.commit()
            finally:
                conn.exec_driver_sql(_LOCK.format("unlock"))
                conn.commit()
    finally:
        engine.dispose()
