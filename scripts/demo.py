"""The README's main command (`make demo`): sandbox -> Airflow DAG -> DuckDB, twice.

1. starts the local Equipme sandbox with a few thousand generated customers;
2. prepares an Airflow home in `.airflow/` (db migrate, the `equipme_warehouse` pool; the
   `equipme_default` connection is passed through the environment, never stored);
3. runs the hourly incremental DAG with `airflow dags test` (a first, full load);
4. creates a few customers through the API (POST /v1/sales/customers);
5. runs the DAG again (only the new customers are read and loaded);
6. prints what landed: rows per table, the bookmark, the loads table, reporting queries;
7. shows the dbt models the second run built (its `transform` task: `dbt build` of
   transform/, see docs/dbt.md) in `warehouse/equipme_dbt.duckdb`.

The sandbox is stopped at the end, also on failure. Exit code 0 only if everything worked.
The DuckDB file stays for you to query (`warehouse/equipme.duckdb` by default).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import requests

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DAG_ID = "equipme_customers_hourly"
NEW_CUSTOMERS = [
    {
        "name": "Aarhus Tømrer ApS",
        "customerNumber": "DEMO-1",
        "active": True,
        "contactName": "Mette Holm",
        "language": "en",
    },
    {"name": "Brückenbau Leipzig GmbH", "customerNumber": "DEMO-2", "active": True},
    {"name": "Costa Azul Construcciones S.L.", "customerNumber": "DEMO-3", "active": False},
    {"name": "Delft Installatietechniek B.V.", "customerNumber": "DEMO-4", "active": True},
    {"name": "Évry Menuiserie SARL", "customerNumber": "DEMO-5", "active": True},
]


class DemoError(Exception):
    """A step failed; the message says which and why."""


def shorten(path: Path) -> Path:
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path


def step(text: str) -> None:
    print(f"\n==> {text}", flush=True)


@contextmanager
def sandbox(customers: int, api_key: str, log: Path) -> Iterator[str]:
    """Run `equipme-sandbox` on a free port; yield its URL; always stop it."""
    log_handle = log.open("w", encoding="utf-8")
    proc = subprocess.Popen(
        [str(BIN / "equipme-sandbox"), "--port", "0", "--customers", str(customers)],
        env={**os.environ, "EQUIPME_SANDBOX_API_KEY": api_key},  # not on the command line
        stdout=subprocess.PIPE,
        stderr=log_handle,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline().strip()
        if "listening on " not in first:
            raise DemoError(f"the sandbox did not start (see {log}): {first!r}")
        # Keep draining its stdout so it can never block on a full pipe.
        threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()
        yield first.split("listening on ", 1)[1].strip()
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log_handle.close()
        print("==> sandbox stopped", flush=True)


def airflow(env: dict[str, str], *args: str, log: Path | None = None) -> None:
    """Run one `airflow` command; on failure show the tail of its output."""
    proc = subprocess.run(
        [str(BIN / "airflow"), *args], env=env, capture_output=True, text=True, check=False
    )
    if log is not None:
        log.write_text(proc.stdout + proc.stderr, encoding="utf-8")
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-30:])
        raise DemoError(f"`airflow {' '.join(args[:3])}` failed (exit {proc.returncode}):\n{tail}")


def latest_run(warehouse: Path) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(
            "SELECT stream, status, rows_inserted, rows_updated, rows_deleted FROM _equipme_loads "
            "WHERE run_id = (SELECT run_id FROM _equipme_loads ORDER BY started_at DESC LIMIT 1) "
            "ORDER BY stream"
        ).fetchall()


def run_dag(env: dict[str, str], conf: dict[str, object], warehouse: Path, log: Path) -> None:
    started = time.monotonic()
    airflow(env, "dags", "test", DAG_ID, "-c", json.dumps(conf), log=log)
    if not warehouse.exists():
        raise DemoError(f"the DAG run loaded nothing (its log: {log})")
    loads = latest_run(warehouse)
    failed = [row for row in loads if row[1] != "succeeded"]
    if not loads or failed:
        raise DemoError(f"the DAG run did not succeed (its log: {log}): {loads}")
    print(f"    done in {time.monotonic() - started:.0f} s; log: {shorten(log)}")
    for stream, _, inserted, updated, deleted in loads:
        print(
            f"    {stream:<18} inserted {inserted:>6}  updated {updated:>6}  deleted {deleted:>4}"
        )


def create_customers(url: str, api_key: str) -> list[int]:
    ids = []
    for body in NEW_CUSTOMERS:
        response = requests.post(
            f"{url}/v1/sales/customers", json=body, headers={"X-API-KEY": api_key}, timeout=30
        )
        if response.status_code != 201:
            raise DemoError(
                f"POST /v1/sales/customers answered {response.status_code}: {response.text[:300]}"
            )
        ids.append(response.json()["id"])
        print(f"    created #{ids[-1]}: {body['name']}")
    return ids


def show(con: duckdb.DuckDBPyConnection, title: str, sql: str) -> None:
    print(f"\n-- {title}\n{sql.strip()};")
    con.sql(sql).show(max_width=140)


def report(warehouse: Path, export_dir: Path) -> None:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        show(
            con,
            "rows per table",
            "SELECT 'customers' AS table_name, count(*) AS rows, count(_deleted_at) AS deleted "
            "FROM customers UNION ALL SELECT 'customer_metadata', count(*), count(_deleted_at) "
            "FROM customer_metadata",
        )
        rows = con.execute("SELECT state FROM _equipme_state").fetchall()
        state = rows[0] if rows else None
        if state:
            bookmark = json.loads(state[0])["bookmarks"]["customers"].get("replication_key_value")
            print(f"\n-- the bookmark (createdAfter of the next run): {bookmark}")
        show(
            con,
            "the loads table (one row per run and stream)",
            "SELECT run_id[:8] AS run, stream, rows_inserted, rows_updated, rows_deleted, "
            "bookmark_after, status FROM _equipme_loads ORDER BY started_at, stream",
        )
        show(
            con,
            "the customers created through the API",
            "SELECT id, name, customer_number, active FROM customers_report "
            "WHERE customer_number LIKE 'DEMO-%' ORDER BY id",
        )
        show(
            con,
            "customers per country",
            "SELECT * FROM customer_counts_by_country ORDER BY customers DESC LIMIT 5",
        )
        show(
            con,
            "metadata keys in use",
            "SELECT key, count(*) AS customers FROM customer_metadata_long "
            "GROUP BY key ORDER BY customers DESC LIMIT 5",
        )
    files = sorted(p.name for p in export_dir.glob("*.parquet"))
    print(f"\n-- Parquet export in {export_dir}: {', '.join(files)}")


def show_models(models: Path) -> None:
    """The dbt models the DAG's transform task built: which, and one model's first rows."""
    if not models.is_file():
        raise DemoError(f"the DAG's transform task built no models ({shorten(models)} missing)")
    with duckdb.connect(str(models), read_only=True) as con:
        built = con.execute(
            "SELECT table_name, estimated_size FROM duckdb_tables() "
            "WHERE schema_name = 'main_equipme' ORDER BY table_name"
        ).fetchall()
        print(f"-- dbt models in {shorten(models)} (schema main_equipme):")
        for name, rows in built:
            print(f"    {name:<36} {rows:>6} rows")
        show(
            con,
            "dbt model stg_equipme__customers: one typed, flat row per live customer",
            "SELECT customer_id, customer_name, language, address_city, address_country_code, "
            "account_manager_full_name FROM main_equipme.stg_equipme__customers "
            "ORDER BY customer_id LIMIT 5",
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--customers", type=int, default=int(os.environ.get("EQUIPME_DEMO_CUSTOMERS", "3000"))
    )
    parser.add_argument("--warehouse", type=Path, default=ROOT / "warehouse" / "equipme.duckdb")
    parser.add_argument("--airflow-home", type=Path, default=ROOT / ".airflow")
    args = parser.parse_args(argv)
    warehouse = args.warehouse.resolve()
    export_dir = warehouse.parent / "export"
    home = args.airflow_home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    api_key = f"demo-{secrets.token_hex(12)}"
    started = time.monotonic()
    try:
        # A fresh sandbox has fresh creation times: start the demo's warehouse from scratch.
        models = warehouse.with_name(f"{warehouse.stem}_dbt.duckdb")
        for stale in (warehouse, warehouse.with_name(warehouse.name + ".wal"), models):
            stale.unlink(missing_ok=True)
        shutil.rmtree(export_dir, ignore_errors=True)
        step(f"starting the sandbox with {args.customers} customers")
        with sandbox(args.customers, api_key, home / "sandbox.log") as url:
            print(f"    {url}")
            env = {
                **os.environ,
                "AIRFLOW_HOME": str(home),
                "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "EQUIPME_DAG_RETRIES": "0",  # fail now, not after minutes of retry delays
                "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
                "AIRFLOW_CONN_EQUIPME_DEFAULT": json.dumps(
                    {"conn_type": "http", "host": url, "password": api_key}
                ),
            }
            step(f"preparing Airflow in {home} (db migrate, pool equipme_warehouse)")
            airflow(env, "db", "migrate")
            airflow(env, "pools", "set", "equipme_warehouse", "1", "One writer on the warehouse")
            conf = {"warehouse_path": str(warehouse), "export_dir": str(export_dir)}
            step(f"run 1: airflow dags test {DAG_ID} (first load)")
            # dbt once, at the end (run 2's transform task), to keep the demo short.
            run_dag(env, {**conf, "transform": False}, warehouse, home / "demo-run-1.log")
            step(f"creating {len(NEW_CUSTOMERS)} customers through the API")
            create_customers(url, api_key)
            step(
                f"run 2: airflow dags test {DAG_ID} (incremental: only the new customers; "
                "then dbt build)"
            )
            run_dag(env, {**conf, "transform": True}, warehouse, home / "demo-run-2.log")
        step("what landed")
        report(warehouse, export_dir)
        step("the dbt models (transform/, built by run 2's transform task)")
        show_models(models)
    except (DemoError, OSError, requests.RequestException, duckdb.Error) as exc:
        print(f"\ndemo failed: {exc}", file=sys.stderr)
        return 1
    shown = shorten(warehouse)
    print(
        f"\nDemo finished in {time.monotonic() - started:.0f} s. The warehouse stays for you:\n"
        f'    .venv/bin/python -c "import duckdb; '
        f"duckdb.connect('{shown}').sql('FROM customers_report LIMIT 5').show()\"\n"
        f"    duckdb {shown}   # with the DuckDB CLI, if installed\n"
        f"The dbt models: {shorten(models)} (docs/dbt.md)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
