"""``meterline connectors`` and ``meterline license``: the licensing side of the command line
(registered on the main app in :mod:`meterline.cli`)."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

from meterline.cli_start import configured
from meterline.kernel.errors import InvalidRequest

console = Console()

# --- meterline license: offline license files ---------------------------------------------

connectors_app = typer.Typer(help="Connectors this deployment offers.", no_args_is_help=True)


@connectors_app.command("register")
def connectors_register(
    name: str = typer.Argument(..., help="The connector's stable name."),
    version: str = typer.Option(..., "--version", help="The version being registered."),
    schema: str = typer.Option(
        ..., "--schema", help="A file holding the JSON Schema its settings are validated against."
    ),
    entitlement: str | None = typer.Option(
        None,
        "--entitlement",
        help="The BOOLEAN entitlement a license must grant for an organization to activate it.",
    ),
) -> None:
    """Register a connector with this deployment, or replace its registration (by name)."""
    from meterline.db.engine import Database
    from meterline.licensing.connectors import ConnectorRegistration, register_connector

    try:
        with open(schema, encoding="utf-8") as handle:
            settings_schema = json.load(handle)
    except (OSError, ValueError) as exc:
        raise typer.BadParameter(f"--schema: {exc}") from exc
    settings = configured()
    db = Database.connect(settings)
    try:
        with db.session() as session:
            registration = ConnectorRegistration(name, version, settings_schema, entitlement)
            connector = register_connector(session, registration)
            result = {"name": connector.name, "version": connector.version}
    except InvalidRequest as exc:
        typer.echo(f"INVALID: {exc} ({exc.field})", err=True)
        raise typer.Exit(1) from exc
    finally:
        db.dispose()
    typer.echo(json.dumps(result))


license_app = typer.Typer(help="Offline license files.", no_args_is_help=True)


@license_app.command("verify")
def license_verify(
    file: str = typer.Argument(..., help="The license file (.lic) to verify."),
    public_key: str = typer.Option(
        ...,
        "--public-key",
        help="The environment's Ed25519 public key: a PEM file, or the key as PEM or base64.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the verified payload as JSON."),
) -> None:
    """Verify a license file offline and print its grants.

    Exit status: 0 valid now, 1 not signed by this key or changed, 2 signed but outside its
    validity dates.
    """
    from datetime import UTC, datetime

    from meterline.licensing import license_file

    key_text = Path(public_key).read_text() if Path(public_key).is_file() else public_key
    try:
        verified = license_file.verify(
            # The bytes as they are: reading as text would turn CRLF into LF, and a file
            # whose line endings were converted is a changed file.
            Path(file).read_bytes().decode("utf-8"),
            license_file.load_public_key(key_text),
        )
    except (OSError, UnicodeDecodeError, license_file.LicenseFileError) as exc:
        typer.echo(f"INVALID: {exc}", err=True)
        raise typer.Exit(1) from exc
    payload = verified.payload
    now = datetime.now(UTC)
    valid_from = datetime.fromisoformat(payload["validFrom"].replace("Z", "+00:00"))
    valid_until = datetime.fromisoformat(payload["validUntil"].replace("Z", "+00:00"))
    in_term = valid_from <= now < valid_until
    if as_json:
        typer.echo(json.dumps(payload, indent=2, sort_keys=True))
    else:
        console.print(
            f"[green]signature valid[/green] (key {verified.key_id}); "
            f"instance [bold]{payload['instance']['slug']}[/bold] of customer "
            f"{payload['customer']['name']}, license {payload['license']['slug']} "
            f"v{payload['license']['version']}"
        )
        console.print(f"valid {payload['validFrom']} .. {payload['validUntil']}")
        for grant in payload["grants"]:
            value = grant["value"]["value"]
            if grant["value"]["type"] == "number" and value == -1:
                value = "unlimited"
            typer.echo(f"  {grant['entitlementSlug']:<32} {grant['entitlementType']:<8} {value}")
    if not in_term:
        typer.echo("OUTSIDE TERM: the license is not valid at this time", err=True)
        raise typer.Exit(2)


signing_keys_app = typer.Typer(
    help="License signing keys: list, rotate, retire.", no_args_is_help=True
)
license_app.add_typer(signing_keys_app, name="keys")


def _keys_command(environment: str, action: str, kid: str | None = None) -> None:
    from datetime import UTC, datetime

    from meterline.db.engine import Database
    from meterline.kernel.errors import DomainError
    from meterline.licensing import signing_keys

    db = Database.connect(configured())
    try:
        with db.session() as session:
            principal = signing_keys.administrator(session, environment)
            now = datetime.now(UTC)
            if action == "rotate":
                signing_keys.rotate(session, principal, now)
            elif action == "retire":
                assert kid is not None
                signing_keys.retire(session, principal, kid, now)
            rows = [
                {"kid": r.kid, "status": r.status, "publicKey": r.public_key}
                for r in signing_keys.key_set(session, principal)
            ]
    except DomainError as exc:
        typer.echo(f"REFUSED: {exc}", err=True)
        raise typer.Exit(1) from exc
    finally:
        db.dispose()
    typer.echo(json.dumps(rows, indent=2))


_ENVIRONMENT = typer.Option(..., "--environment", help="The environment's id (env_...).")


@signing_keys_app.command("list")
def signing_keys_list(environment: str = _ENVIRONMENT) -> None:
    """Print the environment's license signing keys and their status."""
    _keys_command(environment, "list")


@signing_keys_app.command("rotate")
def signing_keys_rotate(environment: str = _ENVIRONMENT) -> None:
    """Make a new active signing key; the active one stays published."""
    _keys_command(environment, "rotate")


@signing_keys_app.command("retire")
def signing_keys_retire(
    kid: str = typer.Argument(..., help="The key id to retire."),
    environment: str = _ENVIRONMENT,
) -> None:
    """Stop publishing a rotated-out key; files it signed are refused."""
    _keys_command(environment, "retire", kid)
