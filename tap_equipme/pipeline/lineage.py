"""OpenLineage for `equipme-sync`: what a run read (the API) and wrote (each table), as events.

Two halves. `describe_run` names the run's datasets as plain JSON data (`SyncSummary.lineage`),
following the OpenLineage naming spec where it has an entry and the OpenLineage dbt
integration where it does not (so the loader's tables join the dbt models' lineage):

- the API (input): namespace `https://api.equipme.io` (scheme, host, port unless the
  default), name `/v1/sales/customers` (and `.../{customerId}/metadata`);
- a DuckDB table: `duckdb://<absolute file path>` (as OpenLineage's dbt-duckdb integration),
  name `<database>.main.<table>`;
- a Parquet table: `file` (the spec's local file system), name `<directory>/<table>.parquet`;
- a DuckLake table, PostgreSQL catalog: `ducklake://<catalog host>:<port>`, name
  `<catalog database>.<lake schema>.<table>`; catalog file: `ducklake://<absolute catalog
  path>`, name `<lake schema>.<table>`.

`emit_run_event` sends START / COMPLETE / FAIL RunEvents through openlineage-python's own
configuration (`OPENLINEAGE_URL`, `OPENLINEAGE_CONFIG` / `openlineage.yml`,
`OPENLINEAGE__TRANSPORT__*`); with none of them it sends nothing, and a failure to send is one
warning line, never a failed sync. Nothing secret goes in an event: the API key is never read
here, the API URL loses any user info and query, the catalog keeps only host, port, database.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import threading
import typing as t
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from tap_equipme import __version__

CUSTOMERS_PATH = "/v1/sales/customers"
METADATA_PATH = "/v1/sales/customers/{customerId}/metadata"
DEFAULT_API_URL = "https://api.equipme.io"
PRODUCER = f"https://pypi.org/project/tap-equipme/{__version__}/"
"""The `producer` URI of every event (which code wrote it)."""
JOB_NAME = "equipme-sync"
"""Job name outside Airflow: `equipme-sync.<sync mode>` (the DAG's tasks are `<dag>.<task>`)."""
CONFIG_ENV = ("OPENLINEAGE_URL", "OPENLINEAGE_CONFIG")
SEND_DEADLINE_S = 10.0
"""The longest a sync waits for one event to be sent (the HTTP transport retries a lineage
server that is down for about 10 s per event; a sync must not wait on it every run)."""
_DEFAULT_PORTS = {"https": 443, "http": 80}
_CONNINFO_PAIR = re.compile(r"(\w+)\s*=\s*('(?:[^'\\]|\\.)*'|\S+)")

logger = logging.getLogger(__name__)


def api_datasets(api_url: str | None) -> list[dict[str, t.Any]]:
    """Name the API resources a sync reads (the customer list and each customer's metadata).

    Args:
        api_url: The tap's `api_url` (default: the production API).

    Returns:
        `[{namespace, name}]`; the URL's user info, query and fragment are dropped.
    """
    parts = urlsplit(str(api_url or DEFAULT_API_URL))
    scheme = (parts.scheme or "https").lower()
    host = (parts.hostname or "").lower()
    port = parts.port
    authority = host if port in (None, _DEFAULT_PORTS.get(scheme)) else f"{host}:{port}"
    base = parts.path.rstrip("/")
    namespace = f"{scheme}://{authority}"
    return [
        {"namespace": namespace, "name": base + CUSTOMERS_PATH},
        {"namespace": namespace, "name": base + METADATA_PATH},
    ]


def _conninfo(catalog: str) -> dict[str, str]:
    """Host, port and database of a `postgres:` catalog (a conninfo or a URI), nothing else."""
    rest = catalog.split(":", 1)[1]
    if rest.startswith("//"):  # `postgresql://...` given whole
        rest = "postgres:" + rest
    elif not rest.lower().startswith(("postgres://", "postgresql://")):  # a conninfo
        return {key: value.strip("'") for key, value in _CONNINFO_PAIR.findall(rest)}
    parts = urlsplit(rest)
    fields = {"host": unquote(parts.hostname or ""), "dbname": unquote(parts.path.lstrip("/"))}
    if parts.port:
        fields["port"] = str(parts.port)
    # libpq lets the query name them too (`?host=/run/postgresql` for a Unix socket).
    for key, values in parse_qs(parts.query).items():
        if key in ("host", "port", "dbname") and values:
            fields[key] = values[-1]
    return fields


def table_namespace(
    destination: str, location: str | os.PathLike[str], lake: Mapping[str, t.Any] | None = None
) -> tuple[str, str]:
    """Return `(namespace, name prefix)` of the warehouse's tables.

    Args:
        destination: `duckdb`, `parquet` or `ducklake`.
        location: The DuckDB file, the Parquet directory or the DuckLake catalog.
        lake: Destination `ducklake`: the `lake_*` settings (`lake_schema`).

    Returns:
        The namespace, and what goes before the table's name in a dataset name.
    """
    if destination == "duckdb":
        path = Path(location).resolve()
        # DuckDB names a file's database after its stem; tables live in schema `main`.
        return f"duckdb://{path}", f"{path.stem}.main."
    if destination == "parquet":
        return "file", f"{Path(location).resolve()}/"
    schema = str((lake or {}).get("lake_schema") or "main")
    catalog = str(location)
    if catalog.lower().startswith(("postgres:", "postgresql:")):
        fields = _conninfo(catalog)
        host = fields.get("host") or "localhost"
        # A Unix socket directory is this machine.
        host = "localhost" if host.startswith("/") else host
        port = fields.get("port") or os.environ.get("PGPORT") or "5432"
        database = fields.get("dbname") or os.environ.get("PGDATABASE") or ""
        return f"ducklake://{host}:{port}", f"{database}.{schema}."
    return f"ducklake://{Path(catalog).resolve()}", f"{schema}."


def _table_schemas(
    destination: str, location: str, lake: Mapping[str, t.Any] | None, tables: list[str]
) -> dict[str, list[dict[str, str]]]:
    """Columns (name, type) of each table that exists, read through the warehouse's read API."""
    from tap_equipme.warehouse.tables import connect_read_only, has_table, relation

    con = connect_read_only(destination, location, lake)
    if con is None:
        return {}
    try:
        found = {}
        for table in tables:
            if has_table(con, destination, location, table):
                rows = con.execute(
                    f"DESCRIBE SELECT * FROM {relation(destination, location, table)}"
                ).fetchall()
                found[table] = [{"name": str(r[0]), "type": str(r[1])} for r in rows]
        return found
    finally:
        con.close()


def describe_run(
    api_url: str | None,
    destination: str,
    location: str,
    lake: Mapping[str, t.Any] | None,
    loads: Mapping[str, Mapping[str, t.Any]],
    *,
    read_schemas: bool = True,
) -> dict[str, t.Any]:
    """Name a run's datasets: the API as inputs, each loaded table (and its history) as outputs.

    Args:
        api_url: The tap's `api_url`.
        destination: `duckdb`, `parquet` or `ducklake`.
        location: The warehouse (as `warehouse_location` resolved it).
        lake: Destination `ducklake`: the `lake_*` / `s3_*` settings.
        loads: This run's `_equipme_loads` rows per stream (`SyncSummary.loads`).
        read_schemas: Read each table's columns from the warehouse (the schema facet).

    Returns:
        `{"inputs": [{namespace, name}], "outputs": [{namespace, name, table, fields?,
        rows?}]}`: JSON data (it travels in the summary and the DAG's XCom).
    """
    namespace, prefix = table_namespace(destination, location, lake)
    tables: list[str] = []
    written: dict[str, int] = {}
    for stream, load in sorted(loads.items()):
        tables += [stream, f"{stream}_history"]
        written[stream] = sum(
            int(load.get(k) or 0) for k in ("rows_inserted", "rows_updated", "rows_deleted")
        )
    schemas = _table_schemas(destination, location, lake, tables) if read_schemas else {}
    outputs = []
    for table in tables:
        if read_schemas and table not in schemas:
            continue  # no history table for this stream
        if not read_schemas and table.endswith("_history"):
            continue
        output: dict[str, t.Any] = {
            "namespace": namespace,
            "name": prefix + table,
            "table": table,
        }
        if table in schemas:
            output["fields"] = schemas[table]
        if table in written:
            output["rows"] = written[table]
        outputs.append(output)
    return {"inputs": api_datasets(api_url), "outputs": outputs}


def lineage_configured() -> bool:
    """Whether openlineage-python has a transport configured (else `equipme-sync` sends nothing).

    The same places the client itself reads: `OPENLINEAGE_URL`, `OPENLINEAGE_CONFIG`,
    `OPENLINEAGE__TRANSPORT__*`, `openlineage.yml` in the working directory or
    `~/.openlineage/`; `OPENLINEAGE_DISABLED=true` turns it off.

    Returns:
        True if events should be sent.
    """
    if os.environ.get("OPENLINEAGE_DISABLED", "").strip().lower() in ("true", "1"):
        return False
    if any(os.environ.get(name) for name in CONFIG_ENV):
        return True
    if any(k.startswith("OPENLINEAGE__TRANSPORT") and v for k, v in os.environ.items()):
        return True
    candidates = (Path.cwd() / "openlineage.yml", Path.home() / ".openlineage" / "openlineage.yml")
    return any(path.is_file() for path in candidates)


def ol_dataset(data: Mapping[str, t.Any], output: bool) -> t.Any:
    """Build an openlineage-python dataset (schema, row-count facets) from `describe_run` data.

    Args:
        data: One of `describe_run`'s inputs or outputs.
        output: Whether it is an output (`OutputDataset`, with `outputStatistics`).

    Returns:
        An `InputDataset` or `OutputDataset` (`openlineage.client.event_v2`).
    """
    from openlineage.client.event_v2 import InputDataset, OutputDataset
    from openlineage.client.facet_v2 import output_statistics_output_dataset as statistics
    from openlineage.client.facet_v2 import schema_dataset

    facets: dict[str, t.Any] = {}
    if data.get("fields"):
        facets["schema"] = schema_dataset.SchemaDatasetFacet(
            fields=[
                schema_dataset.SchemaDatasetFacetFields(name=f["name"], type=f["type"])
                for f in data["fields"]
            ]
        )
    if not output:
        return InputDataset(namespace=data["namespace"], name=data["name"], facets=facets)
    stats: dict[str, t.Any] = {}
    if data.get("rows") is not None:
        stats["outputStatistics"] = statistics.OutputStatisticsOutputDatasetFacet(
            rowCount=int(data["rows"])
        )
    return OutputDataset(
        namespace=data["namespace"], name=data["name"], facets=facets, outputFacets=stats
    )


def build_run_event(
    event_type: str,
    run_id: str,
    job_name: str,
    lineage: Mapping[str, t.Any],
    *,
    error: str | None = None,
    event_time: dt.datetime | None = None,
) -> t.Any:
    """Build one OpenLineage RunEvent (openlineage-python's `event_v2`).

    Args:
        event_type: `START`, `COMPLETE` or `FAIL`.
        run_id: The run's UUID (the `_equipme_loads` run id).
        job_name: The job's name (namespace: `OPENLINEAGE_NAMESPACE`, default `default`).
        lineage: `describe_run`'s data.
        error: A failed run's (redacted) reason, as the `errorMessage` run facet.
        event_time: When (default: now).

    Returns:
        The event.
    """
    from openlineage.client.event_v2 import Job, Run, RunEvent, RunState
    from openlineage.client.facet_v2 import error_message_run, job_type_job

    run_facets: dict[str, t.Any] = {}
    if error:
        run_facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
            message=error, programmingLanguage="python"
        )
    job_facets: dict[str, t.Any] = {
        "jobType": job_type_job.JobTypeJobFacet(
            processingType="BATCH", integration="TAP_EQUIPME", jobType="SYNC"
        )
    }
    return RunEvent(
        eventType=RunState[event_type],
        eventTime=(event_time or dt.datetime.now(dt.timezone.utc)).isoformat(),
        run=Run(runId=run_id, facets=run_facets),
        job=Job(
            namespace=os.environ.get("OPENLINEAGE_NAMESPACE") or "default",
            name=job_name,
            facets=job_facets,
        ),
        inputs=[ol_dataset(d, output=False) for d in lineage.get("inputs", [])],
        outputs=[ol_dataset(d, output=True) for d in lineage.get("outputs", [])],
        producer=PRODUCER,
    )


def emit_run_event(
    event_type: str,
    run_id: str,
    job_name: str,
    lineage: Mapping[str, t.Any],
    *,
    error: str | None = None,
    out: t.TextIO | None = None,
) -> bool:
    """Send one RunEvent if OpenLineage is configured; never raise.

    Args:
        event_type: `START`, `COMPLETE` or `FAIL`.
        run_id: The run's UUID.
        job_name: The job's name.
        lineage: `describe_run`'s data.
        error: A failed run's reason (already redacted).
        out: Where a warning goes if the event cannot be sent (None: the log only).

    Returns:
        Whether an event was handed to the transport.
    """
    if not lineage_configured():
        return False
    outcome: list[BaseException | None] = []

    def send() -> None:
        try:
            from openlineage.client import OpenLineageClient

            client = OpenLineageClient()
            client.emit(build_run_event(event_type, run_id, job_name, lineage, error=error))
            client.close(timeout=SEND_DEADLINE_S)
            outcome.append(None)
        except Exception as exc:  # lineage must never fail a sync
            outcome.append(exc)

    # A daemon thread: a lineage server that hangs cannot hold the sync (or its exit).
    sender = threading.Thread(target=send, name="openlineage-emit", daemon=True)
    sender.start()
    sender.join(SEND_DEADLINE_S)
    if outcome and outcome[0] is None:
        return True
    if not outcome:
        reason = f"no answer within {SEND_DEADLINE_S:g} s"
    elif isinstance(outcome[0], ImportError):
        reason = "openlineage-python is not installed (pip install 'tap-equipme[lineage]')"
    else:
        reason = f"{type(outcome[0]).__name__}: {outcome[0]}"
    message = f"equipme-sync: OpenLineage {event_type} event not sent: {reason}"
    logger.warning(message)
    if out is not None:
        out.write(message + "\n")
        out.flush()
    return False
