"""The benchmark harness's parts measure what they claim (fast, no tap needed)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

BENCH_DIR = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCH_DIR))

import harness  # noqa: E402
import messages  # noqa: E402
from results import Goal, Report, Row  # noqa: E402


def test_peak_rss_counts_the_memory_of_child_processes() -> None:
    # The parent allocates nothing; a grandchild holds ~150 MiB for a moment.
    child = (
        "import subprocess, sys; subprocess.run([sys.executable, '-c', "
        '"b = bytearray(150 * 2**20); import time; time.sleep(0.5)"], check=True)'
    )
    measured = harness.run_measured([sys.executable, "-c", child])
    assert measured.peak_rss > 150 * 2**20
    assert measured.seconds >= 0.5


def test_cpu_time_is_counted_per_program_and_not_the_time_spent_waiting() -> None:
    # A child burns about 0.4 s of CPU, then sleeps 0.6 s: its CPU time is the first only.
    child = (
        "import subprocess, sys; subprocess.run([sys.executable, '-c', "
        '"import time; end = time.process_time() + 0.4\\nwhile time.process_time() < end: '
        'pass\\ntime.sleep(0.6)"], check=True)'
    )
    measured = harness.run_measured([sys.executable, "-c", child])
    cpu = measured.cpu_by_program or {}
    burner = max(cpu.values())
    assert 0.3 <= burner <= 0.9, cpu
    assert measured.seconds >= 1.0


def test_failing_command_raises_with_its_stderr_tail() -> None:
    with pytest.raises(RuntimeError, match="boom-from-child"):
        harness.run_measured([sys.executable, "-c", "import sys; sys.exit('boom-from-child')"])


def test_sandbox_process_serves_customers_to_the_requests_loop(tmp_path: Path) -> None:
    with harness.sandbox_process(customers=1500) as sandbox:
        fetched = messages.fetch_records(sandbox.base_url, tmp_path / "records.jsonl")
        assert sandbox.stats()["requests"] == 2
    assert fetched == 1500
    ids = [json.loads(line)["id"] for line in (tmp_path / "records.jsonl").read_text().splitlines()]
    assert len(set(ids)) == 1500


def test_message_file_wraps_each_record_in_a_singer_record_message(tmp_path: Path) -> None:
    records = tmp_path / "records.jsonl"
    records.write_text("".join(json.dumps({"id": i, "name": f"n{i}"}) + "\n" for i in range(5)))
    entry = {"tap_stream_id": "customers", "schema": {"properties": {}}, "key_properties": ["id"]}
    out = tmp_path / "messages.jsonl"
    assert messages.write_message_file(records, entry, out, limit=3) == 3
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["type"] for line in lines] == ["SCHEMA", "RECORD", "RECORD", "RECORD", "STATE"]
    assert [line["record"]["id"] for line in lines[1:4]] == [0, 1, 2]
    assert lines[0]["key_properties"] == ["id"]


def test_select_streams_selects_exactly_the_named_streams() -> None:
    catalog = {
        "streams": [
            {"tap_stream_id": "customers", "metadata": [{"breadcrumb": [], "metadata": {}}]},
            {"tap_stream_id": "customer_metadata", "metadata": []},
        ]
    }
    selected = messages.select_streams(catalog, {"customers"})
    flags = {
        entry["tap_stream_id"]: next(
            m["metadata"]["selected"] for m in entry["metadata"] if m["breadcrumb"] == []
        )
        for entry in selected["streams"]
    }
    assert flags == {"customers": True, "customer_metadata": False}
    assert catalog["streams"][1]["metadata"] == []  # the original is left alone


def test_report_marks_unmet_goals_and_prints_rates() -> None:
    report = Report(machine="test machine", size="small")
    report.rows.append(Row("1 extraction", "loop", 1000, 0.5, 40.0))
    report.goals.append(Goal("1 extraction", "fast enough", 0.4, 0.5, True))
    report.goals.append(Goal("4 memory", "flat", 1.1, 1.3, False))
    table = report.markdown()
    assert "| 1 extraction: fast enough | 0.40x | >= 0.5 | **NO** |" in table
    assert "| 4 memory: flat | 1.10x | <= 1.3 | yes |" in table
    assert "| 1 extraction | loop | 1,000 | 0.50 | 2,000 | 40 |  |" in table
    assert "test machine" in table


def test_report_explains_only_the_goals_it_missed() -> None:
    report = Report(machine="test machine", size="small")
    report.goals.append(Goal("4 memory", "flat", 2.0, 1.3, False, if_unmet="batches too big"))
    report.goals.append(Goal("2 metadata", "near bound", 1.1, 1.3, False, if_unmet="not shown"))
    table = report.markdown()
    assert "- 4 memory, flat: batches too big" in table
    assert "not shown" not in table
