"""Exports and imports through the SDK: an export is prepared by the export job and
streamed as CSV or newline-delimited JSON over its range; an import of customers is
validated row by row, refused whole with the rejected rows, and idempotent."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from flexprice.models import errors

from meterline.db.engine import Database
from tests.conftest import Tenant, new_tenant, unique
from tests.exports.conftest import run_exports

SDK_ERRORS = (errors.ErrorResponse, errors.FlexpriceDefaultError)


def _status(call: object) -> tuple[int, str]:
    with pytest.raises(SDK_ERRORS) as refused:
        call()  # type: ignore[operator]
    return refused.value.raw_response.status_code, refused.value.raw_response.text


def _file(http: httpx.Client, fp: object, task_id: str) -> str:
    url = fp.tasks.download_task_export(id=task_id)["download_url"]  # type: ignore[attr-defined]
    response = http.get(url)
    assert response.status_code == 200, response.text
    return response.text


def test_an_event_export_streams_its_range_as_csv_and_ndjson(
    tenant: Tenant, server_db: Database
) -> None:
    if tenant.server.event_store == "clickhouse":
        pytest.skip("events are exported from the SQL event store only (docs/exports.md)")
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(days=3)
    with tenant.flexprice() as fp, tenant.client() as http:
        ext = unique("exp")
        fp.customers.create_customer(external_id=ext, name="Exporter")
        stamps = [base + timedelta(hours=h) for h in (0, 1, 2, 30)]
        events = [
            {
                "event_id": f"{ext}-{i}",
                "event_name": "api_call",
                "external_customer_id": ext,
                "timestamp": moment.isoformat(),
                "properties": {"n": str(i), "note": "=1+1" if i == 1 else "ok"},
            }
            for i, moment in enumerate(stamps)
        ]
        assert http.post("/v1/events/bulk", json={"events": events}).status_code == 202
        metadata = {
            "start_time": base.isoformat(),
            "end_time": (base + timedelta(hours=3)).isoformat(),
        }
        started = fp.tasks.create_task(
            task_type="EXPORT",
            entity_type="EVENTS",
            file_type="CSV",
            file_provider="meterline",
            upload_id=f"{ext}-csv",
            file_name="events.csv",
            metadata=metadata,
        )
        task = fp.tasks.get_task(id=started.workflow_id)
        assert task.file_name == "events.csv" and task.metadata == metadata
        assert task.task_status == "PENDING" and task.task_type == "EXPORT"
        assert _status(lambda: fp.tasks.download_task_export(id=task.id))[0] == 400
        # The same upload_id and request: the same export; another request: a 409.
        again = fp.tasks.create_task(
            task_type="EXPORT",
            entity_type="EVENTS",
            file_type="CSV",
            file_provider="meterline",
            upload_id=f"{ext}-csv",
            metadata=metadata,
        )
        assert again.workflow_id == task.id
        code, _ = _status(
            lambda: fp.tasks.create_task(
                task_type="EXPORT",
                entity_type="CUSTOMERS",
                file_type="CSV",
                file_provider="meterline",
                upload_id=f"{ext}-csv",
            )
        )
        assert code == 409

        assert run_exports(server_db).exports_completed >= 1
        done = fp.tasks.get_task(id=task.id)
        assert done.task_status == "COMPLETED" and done.total_records == 3
        result = fp.tasks.get_task_result(workflow_id=task.id)
        assert result.workflow_id == task.id and "COMPLETED" in (result.message or "")
        rows = list(csv.DictReader(io.StringIO(_file(http, fp, task.id))))
        assert [r["event_id"] for r in rows] == [f"{ext}-0", f"{ext}-1", f"{ext}-2"]
        assert rows[0]["external_customer_id"] == ext and rows[0]["event_name"] == "api_call"
        assert json.loads(rows[1]["properties"]) == {"n": "1", "note": "=1+1"}

        ndjson = fp.tasks.create_task(
            task_type="EXPORT",
            entity_type="EVENTS",
            file_type="JSON",
            file_provider="meterline",
            upload_id=f"{ext}-json",
            metadata={
                "start_time": (base + timedelta(hours=2)).isoformat(),
                "end_time": (base + timedelta(days=2)).isoformat(),
            },
        )
        run_exports(server_db)
        lines = [json.loads(line) for line in _file(http, fp, ndjson.workflow_id).splitlines()]
        assert [line["event_id"] for line in lines] == [f"{ext}-2", f"{ext}-3"]
        assert lines[1]["timestamp"] == stamps[3].isoformat()

        # Listed with its filters; cancelled and retried by status.
        mine = fp.tasks.list_tasks(task_type="EXPORT", entity_type="EVENTS")
        assert {t.id for t in mine.items} == {task.id, ndjson.workflow_id}
        assert fp.tasks.list_tasks(task_status="PENDING").items == []
        # A pending export is cancelled (FAILED) and asked again (PENDING) by its status.
        later = fp.tasks.create_task(
            task_type="EXPORT",
            entity_type="SUBSCRIPTIONS",
            file_type="CSV",
            file_provider="meterline",
            upload_id=f"{ext}-subs",
        )
        fp.tasks.update_task_status(id=later.workflow_id, task_status="FAILED")
        cancelled = fp.tasks.get_task(id=later.workflow_id)
        assert cancelled.task_status == "FAILED" and cancelled.failed_at is not None
        run_exports(server_db)
        assert fp.tasks.get_task(id=later.workflow_id).task_status == "FAILED", "not run"
        fp.tasks.update_task_status(id=later.workflow_id, task_status="PENDING")
        run_exports(server_db)
        assert fp.tasks.get_task(id=later.workflow_id).task_status == "COMPLETED"
        assert _file(http, fp, later.workflow_id).startswith("id,customer_id,plan_id")
        assert (
            _status(lambda: fp.tasks.update_task_status(id=task.id, task_status="PENDING"))[0]
            == 400
        )

        # Bad input: 400 with the reason, nothing created.
        bad = {
            "entity type": {"entity_type": "WIDGETS"},
            "prices": {"entity_type": "PRICES"},
            "no range": {"entity_type": "EVENTS"},
            "too long": {
                "entity_type": "EVENTS",
                "metadata": {
                    "start_time": "2024-01-01T00:00:00Z",
                    "end_time": "2025-06-01T00:00:00Z",
                },
            },
            "provider": {"entity_type": "CUSTOMERS", "file_provider": "s3"},
            "file type": {"entity_type": "CUSTOMERS", "file_type": "XLSX"},
        }
        for why, change in bad.items():
            body = {
                "task_type": "EXPORT",
                "file_type": "CSV",
                "file_provider": "meterline",
                "upload_id": unique("bad"),
                **change,
            }
            response = http.post("/v1/tasks", json=body)
            assert response.status_code == 400, (why, response.text)
            assert response.json()["details"]["field"] in (
                "entity_type",
                "metadata.start_time",
                "metadata.end_time",
                "file_provider",
                "file_type",
            ), why
        assert fp.tasks.list_tasks().pagination.total == 3

    other = new_tenant(tenant.server)
    with other.flexprice() as fp_other, other.client() as http_other:
        assert _status(lambda: fp_other.tasks.get_task(id=task.id))[0] == 404
        assert http_other.get(f"/v1/tasks/{task.id}/file").status_code == 404


CUSTOMERS_CSV = (
    "external_id,name,email,timezone,billing_currency\n"
    "{a},Alpha,alpha@example.com,Europe/Paris,EUR\n"
    "{b},=Beta,,,\n"
)


def _upload(http: httpx.Client, text: str) -> str:
    response = http.post(
        "/v1/tasks/uploads", params={"file_name": "customers.csv"}, content=text.encode()
    )
    assert response.status_code == 201, response.text
    return response.json()["upload_id"]


def _import(fp: object, upload_id: str) -> object:
    return fp.tasks.create_task(  # type: ignore[attr-defined]
        task_type="IMPORT",
        entity_type="CUSTOMERS",
        file_type="CSV",
        file_provider="meterline",
        upload_id=upload_id,
    )


def test_a_customer_import_is_validated_row_by_row_and_idempotent(
    tenant: Tenant, server_db: Database
) -> None:
    a, b = unique("imp-a"), unique("imp-b")
    with tenant.flexprice() as fp, tenant.client() as http:
        upload = _upload(http, CUSTOMERS_CSV.format(a=a, b=b))
        first = fp.tasks.get_task(id=_import(fp, upload).workflow_id)
        assert first.task_status == "COMPLETED" and first.task_type == "IMPORT"
        assert first.successful_records == 2 and first.failed_records == 0
        assert first.metadata["report"] == {"created": 2, "updated": 0, "unchanged": 0}
        alpha = fp.customers.get_customer_by_external_id(external_id=a)
        assert (alpha.name, alpha.email, alpha.timezone, alpha.billing_currency) == (
            "Alpha",
            "alpha@example.com",
            "Europe/Paris",
            "eur",
        )
        count = fp.customers.query_customer().pagination.total
        activity = len(fp.activity.list_activity(entity_type="customer", limit=200).items)

        # The same file again changes nothing; a changed row updates that customer only.
        second = fp.tasks.get_task(id=_import(fp, upload).workflow_id)
        assert second.metadata["report"] == {"created": 0, "updated": 0, "unchanged": 2}
        assert fp.customers.query_customer().pagination.total == count
        assert len(fp.activity.list_activity(entity_type="customer", limit=200).items) == activity
        changed = _upload(http, f"external_id,name\n{a},Alpha Two\n{b},=Beta\n")
        third = fp.tasks.get_task(id=_import(fp, changed).workflow_id)
        assert third.metadata["report"] == {"created": 0, "updated": 1, "unchanged": 1}
        assert fp.customers.get_customer_by_external_id(external_id=a).name == "Alpha Two"

        # Bad rows: 400 naming each row and why; nothing of the file is applied.
        c = unique("imp-c")
        bad = _upload(
            http,
            "external_id,name,email,timezone\n"
            f"{c},Gamma,,\n"
            f"{unique('x')},Delta,not-an-email,\n"
            f"{c},Gamma again,,\n"
            f"{unique('y')},Eps,,Mars/Olympus\n"
            f"{unique('z')},\n",
        )
        response = http.post(
            "/v1/tasks",
            json={
                "task_type": "IMPORT",
                "entity_type": "CUSTOMERS",
                "file_type": "CSV",
                "file_provider": "meterline",
                "upload_id": bad,
            },
        )
        assert response.status_code == 400, response.text
        details = response.json()["details"]
        assert details["rejected_count"] == 4
        assert [(r["row"], r["field"]) for r in details["rejected_rows"]] == [
            (3, "email"),
            (4, "external_id"),
            (5, "timezone"),
            (6, None),
        ]
        assert _status(lambda: fp.customers.get_customer_by_external_id(external_id=c))[0] == 404
        assert fp.customers.query_customer().pagination.total == count

        # A header naming an unknown column, a JSON import, an upload that is none: 400.
        header_only = _upload(http, "external_id,name,plan\n")
        for file_type, field, words in (("CSV", "upload_id", "plan"), ("JSON", "file_type", "CSV")):
            response = http.post(
                "/v1/tasks",
                json={
                    "task_type": "IMPORT",
                    "entity_type": "CUSTOMERS",
                    "file_type": file_type,
                    "file_provider": "meterline",
                    "upload_id": header_only,
                },
            )
            assert response.status_code == 400, response.text
            assert response.json()["details"]["field"] == field
            assert words in response.json()["message"]
        assert _status(lambda: _import(fp, "upl_none"))[0] == 400
        # Bytes that are no text: refused at the upload or at the import, never stored.
        for raw in (b"external_id,name\nn\x00ul,Nul\n", b"external_id,name\n\xff\xfe,x\n"):
            sent = http.post("/v1/tasks/uploads", content=raw)
            if sent.status_code == 201:
                refused = http.post(
                    "/v1/tasks",
                    json={
                        "task_type": "IMPORT",
                        "entity_type": "CUSTOMERS",
                        "file_type": "CSV",
                        "file_provider": "meterline",
                        "upload_id": sent.json()["upload_id"],
                    },
                )
                assert refused.status_code == 400, (raw, refused.text)
            else:
                assert sent.status_code == 400, sent.text
        # Too large: the body limit answers 413 before anything is stored.
        huge = http.post("/v1/tasks/uploads", content=b"x" * (9 * 1024 * 1024))
        assert huge.status_code == 413

        # The imported customers export, as of the export's instant.
        export = fp.tasks.create_task(
            task_type="EXPORT",
            entity_type="CUSTOMERS",
            file_type="CSV",
            file_provider="meterline",
            upload_id=unique("customers"),
        )
        run_exports(server_db)
        rows = list(csv.DictReader(io.StringIO(_file(http, fp, export.workflow_id))))
        by_id = {r["external_id"]: r for r in rows}
        assert by_id[a]["name"] == "Alpha Two"
        assert by_id[b]["name"] == "'=Beta", "a formula is neutralised in CSV"
        assert len(rows) == count
