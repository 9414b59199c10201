"""What the command line does before a command runs, and what ``serve`` says at start: the
settings checked and the database opened with one-line errors, the key kept in a file, the
banner. Commands import what they run inside their bodies, so ``meterline --help`` stays
fast (``tests/test_layers.py``)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import NoReturn

import typer

from meterline import __version__
from meterline.settings import ENVIRONMENT, Settings

# Exit status of a command refused before it ran: bad configuration, a guard not passed.
CONFIGURATION_ERROR = 2


def fail(message: str, status: int = CONFIGURATION_ERROR) -> NoReturn:
    """Ends the command with one line on stderr (no traceback)."""
    typer.echo(f"meterline: {message}", err=True)
    raise typer.Exit(status)


def masked(url: str) -> str:
    """``url`` with its password, if any, replaced by ``***``."""
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


def one_line(exc: BaseException) -> str:
    # SQLAlchemy wraps the driver's error and appends a link; the driver's own text says it.
    text = str(getattr(exc, "orig", None) or exc)
    return "; ".join(line.strip() for line in text.splitlines() if line.strip()) or repr(exc)


def _settings_problem(exc: Exception) -> str:
    by_field = {target: name for name, target in ENVIRONMENT.items()}
    problems = []
    for error in getattr(exc, "errors", list)():
        location = tuple(str(part) for part in error.get("loc", ()))
        target: tuple[str | None, str] = (
            (None, location[0]) if len(location) == 1 else (location[0], location[-1])
        )
        name = by_field.get(target, ".".join(location))
        problems.append(f"{name}: {error.get('msg', 'invalid')}")
    return "; ".join(problems) or one_line(exc)


def configured() -> Settings:
    """The settings from the environment, with the database reachable and at the newest
    schema. A bad configuration (a setting that does not parse, a database URL that is not
    SQLite or PostgreSQL, a database that cannot be opened) ends the command with one line
    on stderr and exit status 2."""
    from pydantic import ValidationError
    from sqlalchemy.exc import SQLAlchemyError

    from meterline.db.engine import Database
    from meterline.db.migrate import upgrade

    try:
        settings = Settings()
    except ValidationError as exc:
        fail(f"bad configuration: {_settings_problem(exc)}")
    url = settings.database.url
    if not url.startswith(("sqlite:///", "postgresql://", "postgresql+psycopg://")):
        fail(
            f"METERLINE_DATABASE_URL {masked(url)!r} is not a SQLite (sqlite:///PATH) or "
            "PostgreSQL (postgresql://USER@HOST:PORT/DB) URL"
        )
    try:
        Database.connect(settings).dispose()  # checks the pool settings; connects to nothing
    except ValueError as exc:
        fail(f"bad configuration: {exc}")
    try:
        upgrade(url)
    except (SQLAlchemyError, OSError, ImportError) as exc:
        fail(f"cannot open the database {masked(url)}: {one_line(exc)}")
    return settings


def key_in_file(settings: Settings, path: Path) -> str:
    """The key ``path`` holds when this database accepts it, else a new one written there;
    returns where the key is, for the banner (never the key itself)."""
    from meterline.accounts import service as accounts
    from meterline.db.engine import Database
    from meterline.kernel.errors import Unauthenticated

    try:
        held = path.read_text(encoding="utf-8").strip() if path.exists() else ""
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"--key-file {path}: {one_line(exc)}")
    db = Database.connect(settings)
    try:
        with db.session() as session:
            if held:
                try:
                    accounts.authenticate(session, held)
                    return f"{accounts.display_id(held)}, in {path} (kept)"
                except Unauthenticated:
                    pass  # revoked, expired, or a database made anew: mint another
            account = accounts.ensure_default_account(session)
            _, plaintext = accounts.create_api_key(
                session,
                organization_id=account.organization.id,
                environment_id=account.environment.id,
                user_id=account.user.id,
                name=f"key file {path.name}",
            )
            try:
                # 0600 from the start: the key is never readable by others, even briefly.
                descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                    handle.write(plaintext + "\n")
            except OSError as exc:  # the key's transaction rolls back with it
                fail(f"--key-file {path}: {one_line(exc)}")
    finally:
        db.dispose()
    replaced = " (the key it held is not valid here: replaced)" if held else ""
    return f"{accounts.display_id(plaintext)}, new, in {path}{replaced}: cat {path}"


def banner(settings: Settings, host: str, port: int, workers: int, key_note: str | None) -> None:
    """What ``serve`` prints before it starts: where to go, on which data, with which key."""
    base = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
    url = settings.database.url
    kind = "SQLite" if url.startswith("sqlite") else "PostgreSQL"
    if key_note is None:
        key_note = (
            "METERLINE_BOOTSTRAP_KEY (from the environment)"
            if settings.bootstrap_key
            else "none given: mint one with `meterline keys create`, list them with "
            "`meterline keys list`"
        )
    elif settings.bootstrap_key:
        key_note += "; METERLINE_BOOTSTRAP_KEY too"
    interval = settings.billing.interval_seconds
    rows = [
        ("dashboard", f"{base}/ui"),
        ("API reference", f"{base}/docs  (ReDoc: {base}/redoc)"),
        ("Flexprice API", f"{base}/v1"),
        ("Kaiten API", f"{base}/api"),
        ("database", f"{masked(url)} ({kind})"),
        ("events", "ClickHouse" if settings.events.store == "clickhouse" else "the database"),
        ("API key", key_note),
        ("billing clock", f"every {interval:g} s" if interval > 0 else "off"),
        ("workers", str(workers)),
    ]
    lines = [f"Meterline {__version__} on {base}"]
    lines += [f"  {label:<14} {value}" for label, value in rows]
    typer.echo("\n".join(lines))
