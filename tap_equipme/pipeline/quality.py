"""Data quality checks on a loaded warehouse (run by the DAGs after each sync).

Each check is one SQL count that must be zero (or equal to the API's total after a full
refresh); a failed check names the table and what is wrong. DuckDB reads both destinations:
the DuckDB file itself, or the Parquet files of a Parquet warehouse.
"""

from __future__ import annotations

import dataclasses
import os
import typing as t
from collections.abc import Mapping
from pathlib import Path

CUSTOMERS_PATH = "/v1/sales/customers"
# Tap settings that filter the customer list, as the API's query parameters name them.
LIST_FILTERS = {"active": "active", "names": "names", "customer_numbers": "customerNumbers"}


class QualityError(Exception):
    """One or more checks failed; the message lists each."""


@dataclasses.dataclass
class QualityReport:
    """Counts measured by the checks."""

    live_customers: int
    duplicate_customer_ids: int
    customers_without_name: int
    duplicate_metadata_keys: int
    expected_customers: int | None = None

    def failures(self) -> list[str]:
        """Return one sentence per failed check (empty if all passed)."""
        found = []
        if self.duplicate_customer_ids:
            found.append(f"customers: {self.duplicate_customer_ids} duplicate id(s)")
        if self.customers_without_name:
            found.append(f"customers: {self.customers_without_name} live row(s) without a name")
        if self.duplicate_metadata_keys:
            found.append(
                f"customer_metadata: {self.duplicate_metadata_keys} (customer_id, key) pair(s) "
                "appear more than once"
            )
        if self.expected_customers is not None and self.live_customers != self.expected_customers:
            found.append(
                f"customers: {self.live_customers} live row(s) after a full refresh, but the API "
                f"reports total = {self.expected_customers}"
            )
        return found


def _relations(destination: str, path: Path) -> dict[str, str]:
    if destination == "parquet":
        return {
            name: "read_parquet('" + str(path / f"{name}.parquet").replace("'", "''") + "')"
            for name in ("customers", "customer_metadata")
        }
    return {"customers": "customers", "customer_metadata": "customer_metadata"}


def _open_lake(path: str | os.PathLike[str], lake: Mapping[str, t.Any] | None) -> t.Any:
    """Attach a DuckLake read-only (its schema the default), or fail naming the setting."""
    from tap_equipme.warehouse.errors import WarehouseError
    from tap_equipme.warehouse.lake import connect_lake, lake_settings

    try:
        return connect_lake(lake_settings(path, lake), read_only=True)
    except WarehouseError as exc:
        raise QualityError(str(exc)) from None


def check_warehouse(
    destination: str,
    path: str | os.PathLike[str],
    expected_customers: int | None = None,
    *,
    lake: Mapping[str, t.Any] | None = None,
) -> QualityReport:
    """Run the checks on a warehouse.

    Args:
        destination: `duckdb`, `parquet` or `ducklake`.
        path: The DuckDB file, the Parquet directory or the DuckLake catalog.
        expected_customers: The API's `total` (checked against the live customers when given:
            only meaningful right after a full refresh).
        lake: Destination `ducklake`: the `lake_*` / `s3_*` settings.

    Returns:
        The measured counts.

    Raises:
        QualityError: If a check fails or the warehouse holds no customers table.
    """
    import duckdb  # imported here so the DAG files stay light at parse time

    location = Path(path)
    if destination == "ducklake":
        con = _open_lake(path, lake)
    else:
        exists = (location / "customers.parquet") if destination == "parquet" else location
        if not exists.is_file():
            msg = f"Setting 'path': no customers were loaded into {str(location)!r} yet."
            raise QualityError(msg)
        con = (
            duckdb.connect()
            if destination == "parquet"
            else duckdb.connect(str(location), read_only=True)
        )
    rel = _relations(destination, location)
    try:

        def count(sql: str) -> int:
            # fetchall: DuckDB 2 refuses new work while a result is not fully fetched.
            rows = con.execute(sql).fetchall()
            return int(rows[0][0]) if rows else 0

        def has_table(name: str) -> bool:
            if destination == "parquet":
                return (location / f"{name}.parquet").is_file()
            return bool(
                count(
                    "SELECT count(*) FROM information_schema.tables WHERE table_catalog = "
                    f"current_database() AND table_schema = current_schema() AND "
                    f"table_name = '{name}'"
                )
            )

        if destination == "ducklake" and not has_table("customers"):
            msg = f"Setting 'path': no customers were loaded into the lake {str(path)!r} yet."
            raise QualityError(msg)
        has_metadata = has_table("customer_metadata")
        report = QualityReport(
            live_customers=count(
                f"SELECT count(*) FROM {rel['customers']} WHERE _deleted_at IS NULL"
            ),
            duplicate_customer_ids=count(
                f"SELECT count(*) - count(DISTINCT id) FROM {rel['customers']}"
            ),
            customers_without_name=count(
                f"SELECT count(*) FROM {rel['customers']} "
                "WHERE _deleted_at IS NULL AND (name IS NULL OR trim(name) = '')"
            ),
            duplicate_metadata_keys=count(
                "SELECT count(*) FROM (SELECT customer_id, key FROM "
                f"{rel['customer_metadata']} GROUP BY ALL HAVING count(*) > 1)"
            )
            if has_metadata
            else 0,
            expected_customers=expected_customers,
        )
    finally:
        con.close()
    failures = report.failures()
    if failures:
        raise QualityError("Data quality checks failed: " + "; ".join(failures) + ".")
    return report


def api_total(tap_config: Mapping[str, t.Any], timeout: float = 30.0) -> int:
    """Ask the API how many customers match the tap's filters (`limit=1`, read `total`).

    Args:
        tap_config: The tap's settings (`api_url`, `api_key`, optional filters).
        timeout: Request timeout in seconds.

    Returns:
        The API's `total`.

    Raises:
        QualityError: If the API does not answer with a total (the key is never quoted).
    """
    import requests  # imported here so the DAG files stay light at parse time

    params: dict[str, t.Any] = {"limit": 1}
    for setting, parameter in LIST_FILTERS.items():
        if tap_config.get(setting) is not None:
            value = tap_config[setting]
            params[parameter] = str(value).lower() if isinstance(value, bool) else value
    url = str(tap_config.get("api_url", "https://api.equipme.io")).rstrip("/") + CUSTOMERS_PATH
    try:
        response = requests.get(
            url,
            params=params,
            headers={"X-API-KEY": str(tap_config["api_key"]), "Accept": "application/json"},
            timeout=timeout,
        )
        response.raise_for_status()
        return int(response.json()["total"])
    except (requests.RequestException, KeyError, TypeError, ValueError) as exc:
        # requests' messages quote the URL (which holds no secret), never the headers.
        msg = f"Could not read the customer total from {url}: {exc}"
        raise QualityError(msg) from None
