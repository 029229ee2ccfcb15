"""Input files for the load benchmark: a Singer message file and the bare records.

The records are the sandbox's customers exactly as the API serves them (fetched with the
minimal requests loop); the SCHEMA is the one ``tap-equipme --discover`` publishes, so the
targets see what the tap would send them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from harness import BENCH_API_KEY, PROJECT_ROOT, bin_path, write_json

REQUESTS_LOOP = Path(__file__).with_name("requests_loop.py")


def fetch_records(base_url: str, out: Path, page_size: int = 1000) -> int:
    """Page every customer into ``out`` (one JSON object per line); returns the count."""
    with out.open("w") as sink:
        subprocess.run(
            [sys.executable, str(REQUESTS_LOOP), base_url, str(page_size)],
            stdout=sink,
            env={**os.environ, "EQUIPME_API_KEY": BENCH_API_KEY},
            check=True,
        )
    with out.open("rb") as lines:
        return sum(1 for _ in lines)


def discover_catalog(base_url: str, workdir: Path) -> dict[str, Any]:
    """The tap's own catalog (``tap-equipme --discover``)."""
    config = write_json(workdir / "discover-config.json", tap_config(base_url))
    completed = subprocess.run(
        [bin_path("tap-equipme"), "--config", str(config), "--discover"],
        capture_output=True,
        text=True,
        check=True,
        cwd=PROJECT_ROOT,
    )
    return dict(json.loads(completed.stdout))


def tap_config(base_url: str, **settings: Any) -> dict[str, Any]:
    return {"api_key": BENCH_API_KEY, "api_url": base_url, "page_size": 1000, **settings}


def stream_entry(catalog: dict[str, Any], stream: str) -> dict[str, Any]:
    for entry in catalog["streams"]:
        if entry["tap_stream_id"] == stream:
            return dict(entry)
    raise KeyError(f"stream {stream!r} not in the tap's catalog")


def select_streams(catalog: dict[str, Any], streams: set[str]) -> dict[str, Any]:
    """A copy of ``catalog`` with exactly ``streams`` selected (stream-level metadata)."""
    selected = json.loads(json.dumps(catalog))
    for entry in selected["streams"]:
        chosen = entry["tap_stream_id"] in streams
        entry.setdefault("metadata", [])
        stream_level = [m for m in entry["metadata"] if m.get("breadcrumb") == []]
        if not stream_level:
            stream_level = [{"breadcrumb": [], "metadata": {}}]
            entry["metadata"].append(stream_level[0])
        stream_level[0]["metadata"]["selected"] = chosen
    return selected


def write_message_file(
    records_path: Path, schema_entry: dict[str, Any], out: Path, limit: int | None = None
) -> int:
    """SCHEMA, then one RECORD per line of ``records_path``, then a STATE; returns records."""
    extracted = datetime.now(timezone.utc).isoformat()
    schema_message = {
        "type": "SCHEMA",
        "stream": schema_entry["tap_stream_id"],
        "schema": schema_entry["schema"],
        "key_properties": schema_entry.get("key_properties") or ["id"],
    }
    prefix = f'{{"type":"RECORD","stream":"{schema_entry["tap_stream_id"]}","record":'
    suffix = f',"time_extracted":"{extracted}"}}\n'
    written = 0
    with records_path.open() as records, out.open("w") as sink:
        sink.write(json.dumps(schema_message) + "\n")
        for line in records:
            if limit is not None and written >= limit:
                break
            sink.write(prefix + line.rstrip("\n") + suffix)
            written += 1
        state = {"bookmarks": {schema_entry["tap_stream_id"]: {"replication_key_value": extracted}}}
        sink.write(json.dumps({"type": "STATE", "value": state}) + "\n")
    return written


def head(records_path: Path, out: Path, count: int) -> Path:
    """The first ``count`` lines of a JSON-lines file."""
    with records_path.open() as source, out.open("w") as sink:
        for index, line in enumerate(source):
            if index >= count:
                break
            sink.write(line)
    return out
