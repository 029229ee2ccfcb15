"""Data quality checks on a loaded warehouse (run by the DAGs after each sync).

Each check is one SQL count that must be zero (or equal to the API's total after a full
refresh); a failed check names the table and what is wrong. DuckDB reads every destination
through the warehouse's read API (`warehouse.tables`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import typing as t
from collections.abc import Mapping

CUSTOMERS_PATH = "/v1/sales/customers"
# Tap settings that filter the customer list, as the API's query parameters name them.
LIST_FILTERS = {"active": "active", "names": "names", "customer_numbers": "customerNumbers"}
QUALITY_RETRIES = 2
"""Retries of the check's one request (a check must not wait as long as a sync)."""
QUALITY_MAX_RESPONSE_BYTES = 1024 * 1024
"""A `limit=1` page is a few KB."""


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
    last_loads: dict[str, str | None] = dataclasses.field(default_factory=dict)
    """Per stream, when its last successful load finished (ISO 8601, UTC; None: never)."""
    stale_streams: dict[str, str] = dataclasses.field(default_factory=dict)
    """Streams whose last successful load is older than `max_staleness`: stream -> why."""

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
        found += [f"{stream}: {why}" for stream, why in sorted(self.stale_streams.items())]
        return found


def check_warehouse(
    destination: str,
    path: str | os.PathLike[str],
    expected_customers: int | None = None,
    *,
    lake: Mapping[str, t.Any] | None = None,
    max_staleness: dt.timedelta | None = None,
    now: dt.datetime | None = None,
) -> QualityReport:
    """Run the checks on a warehouse.

    Args:
        destination: `duckdb`, `parquet` or `ducklake`.
        path: The DuckDB file, the Parquet directory or the DuckLake catalog.
        expected_customers: The API's `total` (checked against the live customers when given:
            only meaningful right after a full refresh).
        lake: Destination `ducklake`: the `lake_*` / `s3_*` settings.
        max_staleness: Fail a stream whose last successful load (`_equipme_loads`) finished
            longer ago than this, or that has none (None: no staleness check).
        now: The time to measure staleness against (default: now; tests pass one).

    Returns:
        The measured counts.

    Raises:
        QualityError: If a check fails or the warehouse holds no customers table.
    """
    # Imported here so the DAG files stay light at parse time.
    from tap_equipme.warehouse.load_errors import WarehouseError
    from tap_equipme.warehouse.tables import connect_read_only, has_table, relation

    try:
        con = connect_read_only(destination, path, lake)
    except WarehouseError as exc:
        raise QualityError(str(exc)) from None
    if con is None or not has_table(con, destination, path, "customers"):
        if con is not None:
            con.close()
        where = "the lake " if destination == "ducklake" else ""
        msg = f"Setting 'path': no customers were loaded into {where}{str(path)!r} yet."
        raise QualityError(msg)
    rel = {name: relation(destination, path, name) for name in ("customers", "customer_metadata")}
    try:

        def count(sql: str) -> int:
            # fetchall: DuckDB 2 refuses new work while a result is not fully fetched.
            rows = con.execute(sql).fetchall()
            return int(rows[0][0]) if rows else 0

        has_metadata = has_table(con, destination, path, "customer_metadata")
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
        if has_table(con, destination, path, "_equipme_loads"):
            report.last_loads = _last_loads(con, relation(destination, path, "_equipme_loads"))
    finally:
        con.close()
    if max_staleness is not None:
        report.stale_streams = stale_streams(report.last_loads, max_staleness, now)
    failures = report.failures()
    if failures:
        raise QualityError("Data quality checks failed: " + "; ".join(failures) + ".")
    return report


def _last_loads(con: t.Any, loads: str) -> dict[str, str | None]:
    """When each stream's last successful load finished (None: it has only failed ones)."""
    rows = con.execute(
        f"SELECT stream, max(finished_at) FILTER (WHERE status = 'succeeded') FROM {loads} "
        "GROUP BY stream ORDER BY stream"
    ).fetchall()
    return {
        str(stream): None if at is None else at.astimezone(dt.timezone.utc).isoformat()
        for stream, at in rows
    }


def stale_streams(
    last_loads: Mapping[str, str | None],
    max_staleness: dt.timedelta,
    now: dt.datetime | None = None,
) -> dict[str, str]:
    """Return the streams whose last successful load is older than `max_staleness`.

    Args:
        last_loads: Stream -> when its last successful load finished (ISO 8601; None: never).
        max_staleness: The oldest a last successful load may be.
        now: The time to measure against (default: now).

    Returns:
        Stream -> one sentence saying how old its data is; empty if none is stale. No load at
        all (a warehouse without `_equipme_loads` rows) counts as stale for `customers`.
    """
    now = now or dt.datetime.now(dt.timezone.utc)
    limit = _duration(max_staleness)
    if not last_loads:
        return {"customers": f"no successful load recorded (max_staleness {limit})"}
    stale = {}
    for stream, finished in last_loads.items():
        if finished is None:
            stale[stream] = f"no successful load recorded (max_staleness {limit})"
            continue
        age = now - dt.datetime.fromisoformat(finished)
        if age > max_staleness:
            stale[stream] = (
                f"last successful load finished {finished} ({_duration(age)} ago), older than "
                f"max_staleness {limit}"
            )
    return stale


def _duration(delta: dt.timedelta) -> str:
    """`3h`, `21d`, `2h 5m`: a duration as an operator reads it."""
    minutes = int(delta.total_seconds() // 60)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    parts = [f"{n}{unit}" for n, unit in ((days, "d"), (hours, "h"), (minutes, "m")) if n]
    return " ".join(parts) or f"{delta.total_seconds():.0f}s"


def parse_duration(text: str) -> dt.timedelta:
    """Read `max_staleness` as written in a setting: `90m`, `3h`, `21d`, `1d 12h`, or minutes.

    Args:
        text: The setting's value.

    Returns:
        The duration.

    Raises:
        QualityError: If it is not a positive duration (the message names the setting).
    """
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
    total = 0.0
    cleaned = str(text).strip().lower()
    try:
        if cleaned.replace(".", "", 1).isdigit():
            total = float(cleaned) * 60
        else:
            for part in cleaned.split():
                total += float(part[:-1]) * units[part[-1]]
    except (KeyError, ValueError, IndexError):
        total = 0
    if total <= 0:
        msg = (
            f"Setting 'max_staleness': {text!r} is not a duration; write e.g. '3h', '90m', "
            "'21d' (a bare number is minutes)."
        )
        raise QualityError(msg)
    return dt.timedelta(seconds=total)


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
    # Imported here so the DAG files stay light at parse time. The tap's own client: the
    # same rule for the key (never off the `api_url` origin), body cap, deadline and retries.
    from tap_equipme.errors import EquipmeError
    from tap_equipme.http.api_client import ApiClient, list_page_problem
    from tap_equipme.http.retry import RetryPolicy

    params: dict[str, t.Any] = {"limit": 1}
    for setting, parameter in LIST_FILTERS.items():
        if tap_config.get(setting) is not None:
            value = tap_config[setting]
            params[parameter] = str(value).lower() if isinstance(value, bool) else value
    api_url = str(tap_config.get("api_url", "https://api.equipme.io"))
    url = api_url.rstrip("/") + CUSTOMERS_PATH
    try:
        client = ApiClient(
            api_url,
            str(tap_config["api_key"]),
            timeout=timeout,
            policy=RetryPolicy(max_retries=QUALITY_RETRIES),
            user_agent="tap-equipme-quality-check",
            pool_size=1,
            max_response_bytes=QUALITY_MAX_RESPONSE_BYTES,
            request_deadline=timeout,
        )
    except KeyError:
        msg = f"Could not read the customer total from {url}: the tap config has no api_key"
        raise QualityError(msg) from None
    try:
        page = client.get_json(CUSTOMERS_PATH, params, shape_problem=list_page_problem)
        return int(page["total"])
    except EquipmeError as exc:
        # The client's messages never quote the key (an error body echoing it is masked).
        msg = f"Could not read the customer total from {url}: {exc}"
        raise QualityError(msg) from None
    finally:
        client.close()
