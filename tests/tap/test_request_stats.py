import json
import threading

from tap_equipme.http.request_stats import RequestStats


def test_requests_are_counted_by_kind_and_answers_by_status():
    stats = RequestStats()
    stats.record("list", 200)
    stats.record("metadata", 200)
    stats.record("metadata", 429)
    stats.record("metadata", None)
    stats.record("something-else", 503)
    stats.add_wait(1.25)
    stats.add_wait(0.5)
    assert stats.as_dict() == {
        "requests": {"list": 1, "metadata": 3, "other": 1},
        "responses": {"200": 2, "429": 1, "503": 1},
        "transport_errors": 1,
        "wait_seconds": 1.75,
    }
    assert stats.total_requests == 5
    json.dumps(stats.as_dict())


def test_counts_from_many_threads_add_up():
    stats = RequestStats()

    def work():
        for _ in range(1000):
            stats.record("metadata", 200)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert stats.as_dict()["requests"]["metadata"] == 8000


def test_the_run_logs_its_requests_by_kind_as_the_sandbox_counted_them(
    sandbox, config, run_tap, caplog
):
    sandbox.control.clear_stats()
    with caplog.at_level("INFO", logger="tap-equipme"):
        run_tap({**config, "page_size": 7})
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Requests ")]
    assert len(lines) == 1
    logged = json.loads(lines[0].split(": ", 1)[1])
    served = sandbox.control.stats()["by_route"]
    customers = len(sandbox.control.snapshot()["customers"])
    assert logged["requests"]["list"] == served["GET /v1/sales/customers"]
    assert logged["requests"]["metadata"] == customers
    assert logged["responses"] == {"200": sum(served.values())}
