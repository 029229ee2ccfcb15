"""tap-equipme: the Equipme Supplier API as Singer streams, and the rooms around the tap.

At this package's top level is the tap (`tap-equipme`, a singer-sdk tap): `tap.py` (settings,
stream list), `client.py` (the base stream), `list_stream.py` (paginated lists, bookmark,
change capture), `streams.py` and `metadata_streams.py` (the stream declarations),
`schemas.py` (schemas from the vendored spec), `schema_widening.py` (fields beyond the spec)
and `type_inference.py` (their inferred types),
`config_checks.py`, `errors.py`, `singer_output.py`, and its helpers in `http/` (requests,
retries, rate) and `listing/` (pagination, listing checks, the metadata window). Beside it,
each with its own docstring: `warehouse/` (the loader `target-duckdb-lake`, which knows no
source), `pipeline/` (`equipme-sync`, which wires the two), `sandbox/` (the API double for
tests and demos).
"""

from __future__ import annotations

__version__ = "0.2.0"
