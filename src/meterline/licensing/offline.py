"""The vendor's side of offline licensing: answering an activation request file with a
response file (a machine created exactly once per request), and importing usage bundles
(once each, in sequence) with a signed acknowledgement.

* A request is signed by the key it carries; a changed byte breaks the signature. Its
  nonce and its key are each used once per environment (unique indexes), so a replayed
  request is refused and creates nothing, even when two copies race.
* A request names its license by a license key: the id of a license file issued for the
  instance (``fileId``), which only the holder of that file knows.
* A bundle must be signed by the key of an offline activation of the environment; bundles
  are imported in sequence: the next one is ``last + 1``, an earlier one is a replay (the
  same bytes answer the same acknowledgement and count nothing; other bytes are refused), a
  later one is a gap, refused naming the missing sequences. Imports of one installation
  serialize on its activation row.
* A bundle's reports are applied in order with the same fold as Kaiten usage reports
  (``reporting.apply_report``), each with its ledger row, at the import's time; a report
  the limits refuse is recorded as refused and listed in the acknowledgement.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from meterline.accounts.principal import Principal
from meterline.db.base import new_id
from meterline.db.dialect import dialect_of
from meterline.kernel.errors import Conflict, InvalidRequest, NotFound
from meterline.licensing import (
    audit,
    license_files,
    machines,
    offline_files,
    offline_store,
    reporting,
    signing_keys,
    usage_store,
)
from meterline.licensing.license_files import FileTerms
from meterline.licensing.machine_models import Machine
from meterline.licensing.models import Instance
from meterline.licensing.offline_files import OfflineFileError, UsageBundle
from meterline.licensing.offline_models import OfflineActivation, UsageBundleImport
from meterline.licensing.reporting import UsageReportRequest
from meterline.webhooks import notify


def _refused(exc: OfflineFileError, what: str) -> InvalidRequest:
    return InvalidRequest(f"the {what} is not valid: {exc}", field=what, reason="offline_file")


@dataclass(frozen=True)
class Activated:
    activation: OfflineActivation
    machine: Machine
    response: str


def activate(session: Session, principal: Principal, text: str, now: datetime) -> Activated:
    """The response file for an activation request file (see the module's rules)."""
    try:
        request = offline_files.read_request(text)
    except OfflineFileError as exc:
        raise _refused(exc, "request") from exc
    issued = offline_store.issued_file(session, principal.environment_id, request.license_key)
    if issued is None:
        raise NotFound("license key", request.license_key)
    instance = session.get(Instance, issued.instance_id)
    if instance is None:  # pragma: no cover - the file's row goes with its instance
        raise NotFound("license key", request.license_key)
    # Under the instance's lock (as every activation takes it): copies of one request sent
    # at once serialize here, and all but the first find it answered.
    machines.locked_instance(session, principal, instance.slug)
    replayed = Conflict("This activation request was answered already", reason="request_replayed")
    if offline_store.activation_of_installation(
        session, principal.environment_id, request.installation_kid
    ) is not None or offline_store.activation_of_nonce(
        session, principal.environment_id, request.nonce
    ):
        raise replayed
    terms = machines.MachineTerms(
        request.fingerprint, request.hostname, request.platform, request.cores
    )
    machine = machines.activate(session, principal, instance.slug, terms, now)
    bound = FileTerms(
        issued.lifetime_seconds, issued.grace_seconds, issued.enforcement, request.fingerprint
    )
    license_text = license_files.issue_for(session, principal, instance, bound, now)
    activation = OfflineActivation(
        id=new_id("oact"),
        environment_id=principal.environment_id,
        instance_id=instance.id,
        machine_id=machine.id,
        fingerprint=request.fingerprint,
        nonce=request.nonce,
        request_sha256=request.sha256,
        installation_kid=request.installation_kid,
        installation_key=request.installation_key,
        license_file_id=license_text.record.id,
        created_at=now,
    )
    session.add(activation)
    try:
        session.flush()
    except IntegrityError as exc:  # the same request, answered concurrently
        raise replayed from exc
    kid, key = signing_keys.active_key(session, principal)
    response = offline_files.write_response(
        key,
        kid,
        request,
        activation_id=activation.id,
        instance_slug=instance.slug,
        machine_id=machine.id,
        license_text=license_text.text,
        issued_at=now,
    )
    return Activated(activation, machine, response)


# --- usage bundles ------------------------------------------------------------------------


@dataclass(frozen=True)
class Imported:
    sequence: int
    replayed: bool
    accepted: int
    rejected: list[int]
    acknowledgement: str
    license_file: str | None


def _request(
    principal: Principal, instance: Instance, bundle: UsageBundle, index: int
) -> UsageReportRequest:
    report = bundle.reports[index]
    return UsageReportRequest(
        environment_id=principal.environment_id,
        key_id=principal.key_id,
        instance_slug=instance.slug,
        entitlement_slug=report.entitlement,
        value=report.value,
        behavior=report.behavior,
        metadata={"recordedAt": offline_files.iso(report.recorded_at), "bundle": bundle.sequence},
        transaction_id=f"bundle.{bundle.activation_id}.{bundle.sequence}.{index}",
    )


def _apply(
    session: Session, principal: Principal, instance: Instance, bundle: UsageBundle, now: datetime
) -> list[int]:
    """Apply the bundle's reports in order; the indexes of those the limits refused."""
    raw = session.connection().connection.dbapi_connection
    dialect = dialect_of(session)
    rejected: list[int] = []
    for index in range(len(bundle.reports)):
        report = _request(principal, instance, bundle, index)
        row = usage_store.usage_row(
            raw, dialect, principal.environment_id, instance.slug, report.entitlement_slug
        )
        instance_id, feature_id = reporting.report_target(report, row.context, row.entitlement_type)
        assert row.entitlement_type is not None
        locked = usage_store.lock_counter(
            raw, dialect, principal.environment_id, instance_id, feature_id
        )
        held = usage_store.held_amount(raw, dialect, instance_id, feature_id, now)
        applied = reporting.apply_report(
            report, row.context, row.entitlement_type, locked, None, now, held
        )
        assert applied.ledger_row is not None
        ledger_row = {**applied.ledger_row, "id": new_id("urep")}
        usage_store.add_reports(raw, dialect, [ledger_row])
        if applied.counter is not None:
            usage_store.save_counters(raw, dialect, [(instance_id, feature_id, applied.counter)])
        audit.add_usage_entries(
            raw, dialect, [audit.usage_entry(instance.slug, report.entitlement_slug, ledger_row)]
        )
        if not applied.outcome.accepted:
            rejected.append(index)
        if applied.usage_change is not None:
            before, after = applied.usage_change
            notify.instance_usage_reported(
                session,
                principal.environment_id,
                instance.slug,
                report.entitlement_slug,
                row.context.usage_limit,
                before,
                after,
            )
    return rejected


def import_bundle(session: Session, principal: Principal, text: str, now: datetime) -> Imported:
    """Import a usage bundle once, in sequence; the signed acknowledgement and, if due, a
    refreshed license file (see the module's rules)."""
    try:
        signer = offline_files.bundle_signer(text)
    except OfflineFileError as exc:
        raise _refused(exc, "bundle") from exc
    activation = offline_store.activation_of_installation(
        session, principal.environment_id, signer, lock=True
    )
    if activation is None:
        raise InvalidRequest(
            f"the bundle is signed by an unknown key: {signer}",
            field="bundle",
            reason="unknown_key",
        )
    try:
        bundle = offline_files.read_bundle(
            text, offline_files.public_key_of(activation.installation_key)
        )
    except OfflineFileError as exc:
        raise _refused(exc, "bundle") from exc
    if bundle.activation_id != activation.id:
        raise InvalidRequest(
            "the bundle names another activation than its key's",
            field="bundle",
            reason="offline_file",
        )
    instance = session.get(Instance, activation.instance_id)
    assert instance is not None  # the activation's row goes with its instance
    kid, key = signing_keys.active_key(session, principal)
    earlier = offline_store.bundle_import(session, activation.id, bundle.sequence)
    if earlier is not None:
        if earlier.bundle_sha256 != bundle.sha256:
            raise Conflict(
                f"Another bundle {bundle.sequence} of this installation was imported",
                reason="bundle_conflict",
            )
        ack = offline_files.write_ack(
            key,
            kid,
            bundle,
            imported_at=earlier.imported_at,
            accepted=earlier.accepted,
            rejected=list(earlier.rejected),
            replayed=True,
            license_text=None,
        )
        return Imported(bundle.sequence, True, earlier.accepted, list(earlier.rejected), ack, None)
    last = offline_store.last_sequence(session, activation.id)
    if bundle.sequence != last + 1:
        missing = list(range(last + 1, min(bundle.sequence, last + 101)))
        raise Conflict(
            f"Bundle {bundle.sequence} is out of sequence: bundle {last + 1} is next"
            f" (missing {last + 1}..{bundle.sequence - 1})",
            reason="sequence_gap",
            details={"expected_sequence": last + 1, "missing": missing},
        )
    rejected = _apply(session, principal, instance, bundle, now)
    accepted = len(bundle.reports) - len(rejected)
    session.add(
        UsageBundleImport(
            activation_id=activation.id,
            sequence=bundle.sequence,
            environment_id=principal.environment_id,
            bundle_sha256=bundle.sha256,
            reports=len(bundle.reports),
            accepted=accepted,
            rejected=rejected,
            imported_at=now,
        )
    )
    session.flush()
    refreshed = license_files.refresh_if_due(
        session, principal, instance, activation.fingerprint, now
    )
    license_text = refreshed.text if refreshed is not None else None
    ack = offline_files.write_ack(
        key,
        kid,
        bundle,
        imported_at=now,
        accepted=accepted,
        rejected=rejected,
        replayed=False,
        license_text=license_text,
    )
    return Imported(bundle.sequence, False, accepted, rejected, ack, license_text)
