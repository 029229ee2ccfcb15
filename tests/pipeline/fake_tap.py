"""A stand-in for tap-equipme: emits Singer messages as its config asks, records what it got.

Config keys: `records` (customers to emit), `start_id`, `bookmark` (emitted in the final
STATE), `fail_after` (exit 1 after that many records, logging the API key to test redaction),
`partial_line` (end with half a message), `sleep` (seconds between records), `report` (a
file to write {argv, state, api_key_in_env} to).
"""

from __future__ import annotations

import itertools
import json
import os
import sys
import time


def _configs(argv: list[str]) -> tuple[dict, dict | None]:
    config: dict = {}
    state = None
    for flag, value in itertools.pairwise(argv):
        if flag == "--config" and value != "ENV":
            with open(value, encoding="utf-8") as handle:
                config |= json.load(handle)
        if flag == "--state":
            with open(value, encoding="utf-8") as handle:
                state = json.load(handle)
    return config, state


def _emit(message: dict) -> None:
    sys.stdout.write(json.dumps(message, separators=(",", ":")) + "\n")


def main() -> int:
    config, state = _configs(sys.argv[1:])
    api_key = os.environ.get("TAP_EQUIPME_API_KEY", "")
    if config.get("report"):
        with open(config["report"], "w", encoding="utf-8") as handle:
            json.dump(
                {
                    "argv": sys.argv,
                    "pid": os.getpid(),
                    "config": config,
                    "state": state,
                    "api_key_in_env": api_key,
                },
                handle,
            )
    schema = {
        "type": "object",
        "properties": {"id": {"type": "integer"}, "name": {"type": ["string", "null"]}},
    }
    _emit({"type": "SCHEMA", "stream": "customers", "schema": schema, "key_properties": ["id"]})
    start = int(config.get("start_id", 1))
    for number in range(int(config.get("records", 10))):
        if config.get("fail_after") is not None and number >= int(config["fail_after"]):
            sys.stdout.flush()
            sys.stderr.write(f"Request failed with key {api_key}: 503 Service Unavailable\n")
            return 1
        record = {"id": start + number, "name": f"Customer {start + number}"}
        _emit({"type": "RECORD", "stream": "customers", "record": record})
        if config.get("sleep"):
            sys.stdout.flush()
            time.sleep(float(config["sleep"]))
    if config.get("partial_line"):
        sys.stdout.write('{"type":"RECORD","stream":"customers","record":{"id":')
        return 0
    bookmark = config.get("bookmark", "2026-01-01T00:00:00+00:00")
    _emit(
        {
            "type": "STATE",
            "value": {"bookmarks": {"customers": {"replication_key_value": bookmark}}},
        }
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
