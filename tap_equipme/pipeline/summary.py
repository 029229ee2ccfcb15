"""What one `equipme-sync` run did: the summary object, and reading its loads back."""

from __future__ import annotations

import dataclasses
import os
import typing as t

from tap_equipme.pipeline.schema_report import describe

LOAD_COUNTS = ("rows_inserted", "rows_updated", "rows_deleted", "rows_undeleted")
REQUEST_KINDS = ("list", "metadata", "other")


@dataclasses.dataclass
class SyncSummary:
    """The outcome of one run: records relayed, rows loaded, bookmark, duration."""

    run_id: str
    destination: str
    path: str
    full_refresh: bool
    sync_mode: str = "change_capture"
    """`change_capture`, `incremental` or `full_refresh`."""
    status: str = "running"
    """`succeeded` or `failed` once the run is over."""
    records: dict[str, int] = dataclasses.field(default_factory=dict)
    """RECORD messages the tap emitted (and the pipeline relayed), per stream."""
    loads: dict[str, dict[str, t.Any]] = dataclasses.field(default_factory=dict)
    """This run's `_equipme_loads` rows, per stream (inserted / updated / deleted, status)."""
    schema_changes: list[dict[str, t.Any]] = dataclasses.field(default_factory=list)
    """Columns and fields this run added or widened (`_equipme_schema_changes` rows)."""
    bookmark_before: str | None = None
    bookmark_after: str | None = None
    duration_seconds: float = 0.0
    failure: str | None = None
    """The one-paragraph reason of a failed run (redacted)."""
    requests: dict[str, t.Any] = dataclasses.field(default_factory=dict)
    """What the tap asked of the API (`RequestStats.as_dict()`: requests, answers by status,
    waits, the rate limiter's figures); empty if the tap logged none."""
    lineage: dict[str, t.Any] = dataclasses.field(default_factory=dict)
    """The datasets the run read and wrote, named for OpenLineage (`pipeline.lineage`):
    `{"inputs": [{namespace, name}], "outputs": [{namespace, name, table, fields, rows}]}`."""

    def as_dict(self) -> dict[str, t.Any]:
        """Return the summary as JSON-serialisable data (e.g. for an Airflow XCom)."""
        return dataclasses.asdict(self)

    def rows(self, stream: str, kind: str = "rows_inserted") -> int:
        """Return one count of this run's load of a stream (0 if it loaded nothing).

        Args:
            stream: Stream name.
            kind: One of `rows_inserted`, `rows_updated`, `rows_deleted`.

        Returns:
            The count.
        """
        return int(self.loads.get(stream, {}).get(kind) or 0)

    def render(self) -> str:
        """Return the human-readable summary printed by the CLI."""
        mode = "full refresh" if self.full_refresh else self.sync_mode.replace("_", " ")
        lines = [
            f"equipme-sync: run {self.run_id} {self.status} in {self.duration_seconds:.1f} s "
            f"({mode}, {self.destination} {self.path})",
            f"  {'stream':<24}{'records':>10}{'inserted':>10}{'updated':>10}{'deleted':>10}"
            f"{'undeleted':>10}",
        ]
        for stream in sorted(set(self.records) | set(self.loads)):
            counts = [self.rows(stream, kind) for kind in LOAD_COUNTS]
            lines.append(
                f"  {stream:<24}{self.records.get(stream, 0):>10}"
                + "".join(f"{count:>10}" for count in counts)
            )
        lines.append(f"  bookmark (createdAfter): {self.bookmark_before} -> {self.bookmark_after}")
        lines += [f"  schema change: {describe(change)}" for change in self.schema_changes]
        if self.requests:
            lines.append(f"  {requests_line(self.requests)}")
        if self.failure:
            lines.append(self.failure)
        return "\n".join(lines)


def requests_line(figures: t.Mapping[str, t.Any]) -> str:
    """Return one line on the tap's API requests: counts, 429s, waits, the limiter's rate.

    Args:
        figures: `RequestStats.as_dict()` as the tap logged it.

    Returns:
        The line.
    """
    kinds = figures.get("requests", {})
    total = sum(int(n) for n in kinds.values())
    limited = int(figures.get("responses", {}).get("429", 0))
    limiter = figures.get("rate_limiter") or {}
    settled = limiter.get("settled_per_s")
    beliefs = []
    if settled is not None:
        beliefs.append(f"rate limit found: {settled:.1f}/s")
    if limiter.get("background_share"):
        beliefs.append(
            f"429s not tied to rate: {float(limiter['background_share']):.0%} of requests"
        )
    pace = ", ".join(beliefs) or "never rate limited: full speed"
    return (
        f"API requests: {total:,} ({', '.join(f'{k} {int(n):,}' for k, n in kinds.items())}), "
        f"{limited:,} answered 429, {float(figures.get('wait_seconds', 0)):.1f} s waiting "
        f"before retries, {float(limiter.get('paused_s', 0)):.1f} s paused for Retry-After; "
        f"{pace}"
    )


def read_loads(
    destination: str,
    path: str | os.PathLike[str],
    run_id: str,
    lake: t.Mapping[str, t.Any] | None = None,
) -> dict[str, dict[str, t.Any]]:
    """Return the `_equipme_loads` rows of one run, per stream.

    Args:
        destination: `duckdb`, `parquet` or `ducklake`.
        path: The DuckDB file, the Parquet directory or the DuckLake catalog.
        run_id: The run.
        lake: Destination `ducklake`: the `lake_*` / `s3_*` settings.

    Returns:
        Stream -> `{rows_inserted, rows_updated, rows_deleted, status}`; empty if the run
        loaded nothing or the warehouse does not exist.
    """
    from tap_equipme.warehouse.tables import open_table  # the CLI's --help stays light

    request_columns = tuple(f"requests_{kind}" for kind in REQUEST_KINDS)
    names = (*LOAD_COUNTS, "status", *request_columns)
    columns = ", ".join(("stream", *names))
    with open_table(destination, path, "_equipme_loads", lake) as table:
        if table is None:
            return {}
        con, relation = table
        rows = con.execute(
            f"SELECT {columns} FROM {relation} WHERE run_id = ? ORDER BY stream", [run_id]
        ).fetchall()
    return {row[0]: dict(zip(names, row[1:], strict=True)) for row in rows}
