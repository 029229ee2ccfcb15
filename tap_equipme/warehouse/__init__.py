"""`target-duckdb-lake`: the Singer target that loads Equipme streams into DuckDB or Parquet.

It speaks Singer messages only: it never imports `requests` nor the tap.
"""

from __future__ import annotations
