"""What the loader must be told about tap-equipme's streams (it knows no source's names).

The pipeline passes these in the loader's config; `meltano.yml` sets the same for
`meltano run tap-equipme target-duckdb-lake`. Any other Singer target ignores them.
"""

from __future__ import annotations

import typing as t

BOOKMARK_STREAM = "customers"
"""The stream whose bookmark is tap-equipme's (`createdAfter`)."""
RUN_STATS_KEY = "run_stats"
"""Top-level key of the tap's final STATE carrying the run's request counters."""
CHILD_SETS: list[dict[str, str]] = [
    {
        "stream": "customer_metadata",
        "key": "customer_id",
        "reads_stream": "customer_metadata_reads",
        "parent_stream": "customers",
        "parent_key": "id",
    }
]
"""A customer's metadata is complete whenever the customer appears in
`customer_metadata_reads`, and goes when the customer is deleted."""

TAP_LOADER_SETTINGS: dict[str, t.Any] = {
    "child_sets": CHILD_SETS,
    "bookmark_stream": BOOKMARK_STREAM,
    "run_stats_key": RUN_STATS_KEY,
}
"""The loader settings `equipme-sync` passes for tap-equipme's streams."""
