"""dbt-duckdb plugin: attach the Equipme warehouse the loader filled as the database `equipme`.

One plugin for the three destinations of target-duckdb-lake, so the package's sources read the
same `equipme.<schema>.<table>` names whatever the destination:

- `duckdb`: the DuckDB file, attached READ_ONLY.
- `parquet`: an in-memory database `equipme` holding one view per `<table>.parquet` file of the
  directory (views over the files: the data stays in the files, dbt's catalog sees columns).
- `ducklake`: the DuckLake catalog (`postgres:<conninfo>` or a catalog file), attached
  READ_ONLY; the `ducklake` / `postgres_scanner` / `httpfs` extensions are LOADed from their
  PyPI wheels (`duckdb-extension-*`, built for the pinned duckdb) when installed, because an
  offline worker cannot INSTALL them. S3 keys: `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`
  (+ `s3_endpoint`, `s3_region`, `s3_url_style`, `s3_use_ssl` in the plugin config), put in a
  temporary secret, never in the profile.

dbt-duckdb calls `configure_connection` once per run on its one connection, before the
profile's own `attach:` entries.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

import duckdb
from dbt.adapters.duckdb.plugins import BasePlugin

ALIAS = "equipme"
DESTINATIONS = ("duckdb", "parquet", "ducklake")


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _load_extension(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """LOAD an extension from its PyPI wheel if installed, else through DuckDB's INSTALL."""
    spec = importlib.util.find_spec(f"duckdb_extension_{name}")
    for location in (spec.submodule_search_locations or []) if spec else []:
        path = Path(location) / "extensions" / f"v{duckdb.__version__}" / f"{name}.duckdb_extension"
        if path.is_file():
            con.execute(f"LOAD {_literal(str(path))}")
            return
    con.execute(f"INSTALL {name}")
    con.execute(f"LOAD {name}")


class Plugin(BasePlugin):
    """Attach the warehouse (see the module docstring)."""

    def initialize(self, plugin_config: dict[str, Any]) -> None:
        """Check the settings (one clear error naming the setting)."""
        self.destination = str(plugin_config.get("destination") or "duckdb")
        if self.destination not in DESTINATIONS:
            msg = (
                f"equipme_warehouse: destination {self.destination!r} is not one of {DESTINATIONS}"
            )
            raise ValueError(msg)
        self.warehouse = str(plugin_config.get("warehouse") or "")
        if not self.warehouse:
            msg = (
                "equipme_warehouse: setting 'warehouse' is empty: set EQUIPME_WAREHOUSE to the "
                "DuckDB file, the Parquet directory or the DuckLake catalog the loader filled"
            )
            raise ValueError(msg)
        self.config = plugin_config

    def configure_connection(self, conn: duckdb.DuckDBPyConnection) -> None:
        """Attach the warehouse as `equipme`."""
        if self.destination == "duckdb":
            if not Path(self.warehouse).is_file():
                msg = f"equipme_warehouse: no DuckDB file at {self.warehouse!r} (EQUIPME_WAREHOUSE)"
                raise ValueError(msg)
            conn.execute(f"ATTACH {_literal(self.warehouse)} AS {ALIAS} (READ_ONLY)")
        elif self.destination == "parquet":
            self._parquet_views(conn, Path(self.warehouse))
        else:
            self._attach_lake(conn)

    def _parquet_views(self, conn: duckdb.DuckDBPyConnection, directory: Path) -> None:
        files = sorted(directory.glob("*.parquet")) if directory.is_dir() else []
        if not files:
            msg = f"equipme_warehouse: no Parquet files in {str(directory)!r} (EQUIPME_WAREHOUSE)"
            raise ValueError(msg)
        conn.execute(f"ATTACH ':memory:' AS {ALIAS}")
        for file in files:
            name = file.name.removesuffix(".parquet").replace('"', '""')
            conn.execute(
                f'CREATE OR REPLACE VIEW {ALIAS}.main."{name}" AS '
                f"SELECT * FROM read_parquet({_literal(str(file.resolve()))})"
            )

    def _attach_lake(self, conn: duckdb.DuckDBPyConnection) -> None:
        catalog = self.warehouse.removeprefix("ducklake:")
        if catalog.startswith("postgres:") and "password" in catalog.lower():
            msg = (
                "equipme_warehouse: the DuckLake catalog must not hold a password: use "
                "PGPASSWORD, a passfile or a service file"
            )
            raise ValueError(msg)
        _load_extension(conn, "ducklake")
        if catalog.startswith("postgres:"):
            _load_extension(conn, "postgres_scanner")
        data_path = str(self.config.get("lake_data_path") or "")
        if data_path.startswith("s3://"):
            _load_extension(conn, "httpfs")
            self._s3_secret(conn)
        options = ["READ_ONLY"]
        if data_path:
            options.append(f"DATA_PATH {_literal(data_path)}")
        conn.execute(f"ATTACH {_literal('ducklake:' + catalog)} AS {ALIAS} ({', '.join(options)})")

    def _s3_secret(self, conn: duckdb.DuckDBPyConnection) -> None:
        options = ["TYPE s3"]
        key_id, secret = (
            os.environ.get("AWS_ACCESS_KEY_ID"),
            os.environ.get("AWS_SECRET_ACCESS_KEY"),
        )
        if key_id and secret:
            options += [f"KEY_ID {_literal(key_id)}", f"SECRET {_literal(secret)}"]
        if os.environ.get("AWS_SESSION_TOKEN"):
            options.append(f"SESSION_TOKEN {_literal(os.environ['AWS_SESSION_TOKEN'])}")
        for setting, option in (
            ("s3_endpoint", "ENDPOINT"),
            ("s3_region", "REGION"),
            ("s3_url_style", "URL_STYLE"),
        ):
            if self.config.get(setting):
                options.append(f"{option} {_literal(str(self.config[setting]))}")
        if str(self.config.get("s3_use_ssl", "true")).lower() == "false":
            options.append("USE_SSL false")
        conn.execute(f"CREATE OR REPLACE TEMPORARY SECRET equipme_dbt_s3 ({', '.join(options)})")
