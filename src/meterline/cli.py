"""The ``meterline`` command line."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console

from meterline import __version__
from meterline.cli_licensing import connectors_app, license_app
from meterline.cli_start import banner, configured, fail, key_in_file
from meterline.kernel.errors import InvalidRequest
from meterline.settings import Settings

if TYPE_CHECKING:
    from meterline.accounts.operator import KeyRow

app = typer.Typer(
    help="Meterline: usage metering, entitlements, licensing and billing.", no_args_is_help=True
)
keys_app = typer.Typer(help="API keys.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(connectors_app, name="connectors")
app.add_typer(license_app, name="license")
console = Console()


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"meterline {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    _version: bool = typer.Option(
        False,
        "--version",
        callback=_print_version,
        is_eager=True,
        help="Print the version and exit.",
    ),
) -> None:
    """Meterline: usage metering, entitlements, licensing and billing."""


@app.command()
def migrate() -> None:
    """Bring the database to the newest schema."""
    configured()
    console.print("[green]database is up to date[/green]")


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8080, help="Port to listen on."),
    workers: int = typer.Option(1, help="Worker processes (use PostgreSQL for more than one)."),
    log_level: str = typer.Option("warning", help="Log level (info logs every request)."),
    json_logs: bool | None = typer.Option(
        None,
        "--json-logs/--text-logs",
        help="One JSON object per log line, with request ids; default: text on a terminal, "
        "JSON otherwise.",
    ),
    key_file: Path | None = typer.Option(
        None,
        "--key-file",
        help="Keep a full-rights key of the default organization in this file: the key it "
        "holds is used while the database accepts it, else a new one is minted and written "
        "there (mode 0600).",
    ),
) -> None:
    """Migrate the database if needed and serve the HTTP API."""
    import uvicorn

    from meterline.observability import log_config

    if json_logs is None:
        json_logs = not sys.stderr.isatty()
    logging_config = log_config(log_level, json_logs)

    settings = configured()
    key_note = key_in_file(settings, key_file) if key_file else None
    banner(settings, host, port, workers, key_note)
    if workers > 1:
        uvicorn.run(
            "meterline.app:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level=log_level,
            log_config=logging_config,
            access_log=False,
        )
        return
    from meterline.app import create_app

    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_level=log_level,
        log_config=logging_config,
        access_log=False,
    )


@app.command()
def bill(
    now: str | None = typer.Option(
        None, help="Bill as if it were this instant (RFC 3339); default: the current time."
    ),
    dry_run: bool = typer.Option(
        False,
        "--dry-run",
        help="Print what this run would bill (periods, invoices, totals) and write nothing.",
    ),
    yes: bool = typer.Option(
        False, "--yes", help="Bill even when --now is in the future (periods not ended yet)."
    ),
) -> None:
    """Close every billing period that has ended, finalize drafts past their grace
    period, and send the overdue-invoice and renewal-due webhooks. Safe to run any number of
    times, or while ``serve`` runs its own clock."""
    from datetime import UTC, datetime

    from meterline.db.engine import Database
    from meterline.invoicing.clock import run_once
    from meterline.kernel.instants import parse_instant

    try:
        instant = parse_instant(now) if now else None
    except ValueError as exc:
        raise typer.BadParameter("--now must be an RFC 3339 date-time") from exc
    if instant is not None and instant > datetime.now(UTC) and not (yes or dry_run):
        fail(
            f"--now {instant.isoformat()} is in the future: it would bill periods that have "
            "not ended, with the usage so far; see what it would bill with --dry-run, or "
            "pass --yes to bill anyway"
        )
    settings = configured()
    db = Database.connect(settings)
    try:
        if dry_run:
            from meterline.invoicing.dry_run import dry_run as simulate

            preview = simulate(db, now=instant or datetime.now(UTC), grace=settings.billing.grace)
        else:
            report = run_once(
                db,
                now=instant,
                grace=settings.billing.grace,
                renewal_lead=settings.billing.renewal_lead,
            )
    finally:
        db.dispose()
    if not dry_run:
        typer.echo(json.dumps(report.as_dict()))
        return
    typer.echo(json.dumps(preview.as_dict()))
    totals = ", ".join(f"{c} {t}" for c, t in sorted(preview.totals().items())) or "nothing"
    typer.echo(
        f"dry run: would close {preview.periods_closed} period(s) of "
        f"{len(preview.subscriptions)} subscription(s), invoicing {totals}, and finalize "
        f"{len(preview.finalized)} draft(s); nothing was written",
        err=True,
    )


@keys_app.command("create")
def keys_create(
    name: str = typer.Option("cli", help="A name to recognise the key by."),
    customer: str | None = typer.Option(
        None, help="Scope the key to this customer's external id (for GET /v1/usage)."
    ),
    organization: str | None = typer.Option(
        None,
        help="Mint the key in this organization (created on first use) instead of the "
        "default one: a separate tenant that shares nothing with it.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    platform: bool = typer.Option(
        False,
        "--platform",
        help="Create a platform credential (ksm_...) for the Kaiten Platform API instead: "
        "deployment-wide, of no organization.",
    ),
    scope: list[str] | None = typer.Option(
        None,
        "--scope",
        help="With --platform: a scope the credential holds (repeatable); default: every "
        "platform scope.",
    ),
    ttl: str | None = typer.Option(
        None, help="With --platform: its lifetime, a Go duration such as 2160h; default: none."
    ),
) -> None:
    """Mint a full-rights key in the production environment of the default organization
    (or of ``--organization``) and print it once; with ``--platform``, a platform
    credential."""
    from meterline.accounts import service as accounts
    from meterline.db.engine import Database

    settings = configured()
    if platform:
        _create_platform_credential(settings, name, scope, ttl, as_json)
        return
    if scope or ttl:
        raise typer.BadParameter("--scope and --ttl apply to --platform credentials only")
    db = Database.connect(settings)
    try:
        with db.session() as session:
            account = (
                accounts.ensure_organization(session, organization)
                if organization
                else accounts.ensure_default_account(session)
            )
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
                "organization_id": api_key.organization_id,
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


def _create_platform_credential(
    settings: Settings, name: str, scopes: list[str] | None, ttl: str | None, as_json: bool
) -> None:
    from meterline.accounts import platform
    from meterline.db.engine import Database
    from meterline.kernel.durations import parse_go_duration

    try:
        lifetime = parse_go_duration(ttl, maximum=platform.MAX_TTL) if ttl else None
    except ValueError as exc:
        raise typer.BadParameter(f"--ttl: {exc}") from exc
    db = Database.connect(settings)
    try:
        with db.session() as session:
            try:
                row, plaintext = platform.create_credential(
                    session, name=name, scopes=scopes or None, ttl=lifetime
                )
            except InvalidRequest as exc:
                raise typer.BadParameter(exc.message) from exc
            result = {
                "key": plaintext,
                "id": row.id,
                "slug": row.slug,
                "name": row.name,
                "scopes": row.scopes,
                "expires_at": row.expires_at.isoformat() if row.expires_at else None,
            }
    finally:
        db.dispose()
    if as_json:
        typer.echo(json.dumps(result))
    else:
        console.print(f"Platform credential ([bold]{name}[/bold], slug {result['slug']}):")
        typer.echo(plaintext)


@keys_app.command("list")
def keys_list(
    organization: str | None = typer.Option(
        None, help="List this organization's keys instead of the default one's."
    ),
    revoked: bool = typer.Option(False, "--revoked", help="List revoked keys instead."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON lines, one per key."),
) -> None:
    """The organization's live keys in every environment, newest first (never the keys
    themselves: only their first and last characters)."""
    from meterline.accounts import operator
    from meterline.db.engine import Database

    settings = configured()
    db = Database.connect(settings)
    try:
        with db.session(write=False) as session:
            org = operator.organization(session, organization)
            if org is None:
                fail(f"no organization {organization or '(default)'}: no key yet", 1)
            rows, more = operator.list_keys(session, org, revoked=revoked)
            listed = [_key_row(row) for row in rows]
    finally:
        db.dispose()
    if as_json:
        for entry in listed:
            typer.echo(json.dumps(entry))
    else:
        from rich.table import Table

        table = Table(title=f"{'Revoked' if revoked else 'Live'} keys of {org.name}")
        for column in ("id", "name", "key", "environment", "scopes", "customer", "created"):
            table.add_column(column)
        table.add_column("last used")
        for entry in listed:
            table.add_row(
                *(str(entry[c] or "") for c in ("id", "name", "key", "environment")),
                " ".join(entry["scopes"]),
                entry["customer_external_id"] or "",
                (entry["created_at"] or "")[:19],
                (entry["last_used_at"] or "never")[:19],
            )
        console.print(table)
    if more:
        typer.echo(f"(only the newest {operator.MAX_KEYS} of an environment)", err=True)


def _key_row(row: KeyRow) -> dict[str, Any]:
    key = row.key
    return {
        "id": key.id,
        "name": key.name,
        "key": key.display_id,
        "environment": f"{row.environment.name} ({row.environment.id})",
        "scopes": list(key.scopes or []),
        "customer_external_id": key.customer_external_id,
        "status": "revoked" if key.status != "published" else "live",
        "created_at": key.created_at.isoformat() if key.created_at else None,
        "last_used_at": key.last_used_at.isoformat() if key.last_used_at else None,
        "expires_at": key.expires_at.isoformat() if key.expires_at else None,
    }


@keys_app.command("revoke")
def keys_revoke(
    key_id: str = typer.Argument(..., help="The key's id (secret_..., from `keys list`)."),
    organization: str | None = typer.Option(
        None, help="The key's organization, when it is not the default one."
    ),
) -> None:
    """Revoke a key at once: requests with it get 401, and dashboard sessions opened with
    it end."""
    from meterline.accounts import operator
    from meterline.db.engine import Database
    from meterline.kernel.errors import NotFound

    settings = configured()
    db = Database.connect(settings)
    try:
        with db.session() as session:
            org = operator.organization(session, organization)
            if org is None:
                fail(f"no organization {organization or '(default)'}", 1)
            try:
                row = operator.revoke_key(session, org, key_id)
            except NotFound:
                fail(f"{org.name} has no live key {key_id} (see `meterline keys list`)", 1)
            revoked = f"revoked {row.key.id} ({row.key.name}, {row.key.display_id}) in {row.environment.name}"
    finally:
        db.dispose()
    typer.echo(revoked)


@keys_app.command("revoke-platform")
def keys_revoke_platform(
    slug: str = typer.Argument(..., help="The platform credential's slug."),
) -> None:
    """Revoke a platform credential, and with it every organization token it minted."""
    from meterline.accounts import platform
    from meterline.db.engine import Database
    from meterline.kernel.errors import NotFound

    settings = configured()
    db = Database.connect(settings)
    try:
        with db.session() as session:
            try:
                revoked = platform.revoke_credential(session, slug)
            except NotFound as exc:
                raise typer.BadParameter(exc.message) from exc
    finally:
        db.dispose()
    typer.echo(f"revoked {slug} and {revoked} token(s) it minted")


@app.command()
def demo(
    customers: int = typer.Option(300, min=1, max=5000, help="How many customers to simulate."),
) -> None:
    """Seed a demo environment: catalog, three plans, a license, customers with a month of
    usage, and their first invoices. Then sign in to /ui with the key it prints."""
    import time

    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from meterline import demo as demo_run
    from meterline.db.engine import Database

    settings = configured()
    db = Database.connect(settings)
    started = time.monotonic()
    try:
        with Progress(
            TextColumn("{task.description:<22}"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.completed:>9,.0f} / {task.total:,.0f}"),
            TimeElapsedColumn(),
            console=console,
        ) as bar:
            tasks: dict[str, Any] = {}
            labels = {
                "catalog": "catalog and plans",
                "customers": "customers",
                "events": "events (a month)",
                "billing": "billing clock",
                "collections": "payments, wallets, instance usage",
            }

            def progress(stage: str, done: int, total: int) -> None:
                if stage not in tasks:
                    tasks[stage] = bar.add_task(labels[stage], total=total)
                bar.update(tasks[stage], completed=done, total=total)

            result = demo_run.run(db, settings, customer_count=customers, progress=progress)
    finally:
        db.dispose()
    elapsed = time.monotonic() - started
    table = Table(title=f"Demo environment {result.environment_id}")
    table.add_column("plan")
    table.add_column("invoices", justify="right")
    table.add_column("invoiced (USD)", justify="right")
    for plan, (count, total) in sorted(result.invoices_by_plan.items()):
        table.add_row(plan, f"{count:,}", f"{total:,.2f}")
    console.print(table)
    top = Table(title="Top customers by invoiced amount")
    top.add_column("customer")
    top.add_column("plan")
    top.add_column("invoiced (USD)", justify="right")
    for name, plan, amount in result.top_customers:
        top.add_row(name, plan, f"{amount:,.2f}")
    console.print(top)
    console.print(
        f"{result.customers:,} customers, {result.events:,} events, "
        f"{result.report.periods_closed:,} periods closed, "
        f"{result.report.invoices_finalized:,} drafts finalized, in {elapsed:.1f} s"
    )
    if result.collections:
        console.print(
            "Invoices: "
            + ", ".join(f"{count:,} {what}" for what, count in sorted(result.collections.items()))
        )
    console.print("Sign in to the dashboard at [bold]/ui[/bold] with this key (shown once):")
    typer.echo(result.api_key)


def main() -> None:  # pragma: no cover - console entry point
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    app()
