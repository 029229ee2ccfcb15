"""What one `equipme-sync` run did: the summary object, and reading its loads back."""

from __future__ import annotations

import dataclasses
import os
import typing as t
from pathlib import Path

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
    requests: dict[str, int] = dataclasses.field(default_factory=dict)
    """API requests of the run by kind (`list`, `metadata`, `other`), as the tap counted them."""
    bookmark_before: str | None = None
    bookmark_after: str | None = None
    duration_seconds: float = 0.0
    failure: str | None = None
    """The one-paragraph reason of a failed run (redacted)."""

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
        if self.requests:
            kinds = ", ".join(f"{kind} {self.requests.get(kind, 0)}" for kind in REQUEST_KINDS)
            lines.append(f"  API requests: {sum(self.requests.values())} ({kinds})")
        lines.append(f"  bookmark (createdAfter): {self.bookmark_before} -> {self.bookmark_after}")
        if self.failure:
            lines.append(self.failure)
        return "\n".join(lines)


def read_loads(
    destination: str, path: str | os.PathLike[str], run_id: str
) -> dict[str, dict[str, t.Any]]:
    """Return the `_equipme_loads` rows of one run, per stream.

    Args:
        destination: `duckdb` or `parquet`.
        path: The DuckDB file or the Parquet directory.
        run_id: The run.

    Returns:
        Stream -> `{rows_inserted, rows_updated, rows_deleted, status}`; empty if the run
        loaded nothing or the warehouse does not exist.
    """
    import duckdb  # imported here: the CLI's --help and the DAG files stay light

    location = Path(path)
    request_columns = tuple(f"requests_{kind}" for kind in REQUEST_KINDS)
    names = (*LOAD_COUNTS, "status", *request_columns)
    columns = ", ".join(("stream", *names))
    if destination == "parquet":
        source = location / "_equipme_loads.parquet"
        if not source.is_file():
            return {}
        con = duckdb.connect()
        relation = "read_parquet(?)"
        params: list[t.Any] = [str(source), run_id]
    else:
        if not location.is_file():
            return {}
        con = duckdb.connect(str(location), read_only=True)
        relation = "_equipme_loads"
        params = [run_id]
    try:
        if destination != "parquet":
            found = con.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_name = ?",
                ["_equipme_loads"],
            ).fetchall()[0]
            if not found or not found[0]:
                return {}
        rows = con.execute(
            f"SELECT {columns} FROM {relation} WHERE run_id = ? ORDER BY stream", params
        ).fetchall()
    finally:
        con.close()
    return {row[0]: dict(zip(names, row[1:], strict=True)) for row in rows}


def requests_of(loads: dict[str, dict[str, t.Any]]) -> dict[str, int]:
    """Return the run's API requests by kind from its loads (the same on each stream's row).

    Args:
        loads: The run's loads, as `read_loads` returns them.

    Returns:
        Kind -> requests; empty if the tap reported none.
    """
    for row in loads.values():
        if row.get("requests_list") is not None:
            return {kind: int(row.get(f"requests_{kind}") or 0) for kind in REQUEST_KINDS}
    return {}
