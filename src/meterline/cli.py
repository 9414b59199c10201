"""The ``meterline`` command line."""

from __future__ import annotations

import json
import os

import typer
from rich.console import Console

from meterline.config import get_settings

app = typer.Typer(
    help="Meterline: usage metering, entitlements, licensing and billing.", no_args_is_help=True
)
keys_app = typer.Typer(help="API keys.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
console = Console()


@app.command()
def migrate() -> None:
    """Bring the database to the newest schema."""
    from meterline.db.migrate import upgrade

    upgrade(get_settings().database_url)
    console.print("[green]database is up to date[/green]")


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8080, help="Port to listen on."),
    workers: int = typer.Option(1, help="Worker processes (use PostgreSQL for more than one)."),
    log_level: str = typer.Option("warning", help="uvicorn log level."),
) -> None:
    """Migrate the database if needed and serve the HTTP API."""
    import uvicorn

    from meterline.db.migrate import upgrade

    settings = get_settings()
    upgrade(settings.database_url)
    if workers > 1:
        uvicorn.run(
            "meterline.app:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level=log_level,
            access_log=False,
        )
        return
    from meterline.app import create_app

    uvicorn.run(create_app(settings), host=host, port=port, log_level=log_level, access_log=False)


@app.command()
def bill(
    now: str | None = typer.Option(
        None, help="Bill as if it were this instant (RFC 3339); default: the current time."
    ),
) -> None:
    """Close every billing period that has ended and finalize drafts past their grace
    period. Safe to run any number of times, or while ``serve`` runs its own clock."""
    from meterline.billing.clock import run_once
    from meterline.db.engine import Database
    from meterline.db.migrate import upgrade
    from meterline.events.ingest import parse_instant

    settings = get_settings()
    upgrade(settings.database_url)
    try:
        instant = parse_instant(now) if now else None
    except ValueError as exc:
        raise typer.BadParameter("--now must be an RFC 3339 date-time") from exc
    db = Database.connect(settings)
    try:
        report = run_once(db, now=instant)
    finally:
        db.dispose()
    typer.echo(json.dumps(report.as_dict()))


@keys_app.command("create")
def keys_create(
    name: str = typer.Option("cli", help="A name to recognise the key by."),
    customer: str | None = typer.Option(
        None, help="Scope the key to this customer's external id (for GET /v1/usage)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Mint a key in the default production environment and print it once."""
    from meterline.accounts import service as accounts
    from meterline.db.engine import Database
    from meterline.db.migrate import upgrade

    settings = get_settings()
    upgrade(settings.database_url)
    db = Database.connect(settings)
    try:
        with db.session() as session:
            account = accounts.ensure_default_account(session)
            api_key, plaintext = accounts.create_api_key(
                session,
                organization_id=account.organization.id,
                environment_id=account.environment.id,
                user_id=account.user.id,
                name=name,
                customer_external_id=customer,
            )
            result = {
                "key": plaintext,
                "id": api_key.id,
                "name": api_key.name,
                "environment_id": api_key.environment_id,
                "customer_external_id": customer,
            }
    finally:
        db.dispose()
    if as_json:
        typer.echo(json.dumps(result))
    else:
        console.print(f"API key ([bold]{name}[/bold], environment {result['environment_id']}):")
        typer.echo(plaintext)


def main() -> None:  # pragma: no cover - console entry point
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    app()
