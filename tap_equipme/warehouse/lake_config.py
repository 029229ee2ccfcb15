"""The loader settings of destination `ducklake` (besides `path`, which names the catalog)."""

from __future__ import annotations

from singer_sdk import typing as th


def lake_properties() -> list[th.Property]:
    """Return the `lake_*` and `s3_*` settings (none secret: credentials come from the env).

    Returns:
        The properties, for the target's `config_jsonschema`.
    """
    return [
        th.Property(
            "lake_data_path",
            th.StringType,
            description="Destination `ducklake`: where the Parquet files go, a directory or "
            "`s3://bucket/prefix/` (stored in the catalog by the first load; later loads may "
            "omit it).",
        ),
        th.Property(
            "lake_schema",
            th.StringType,
            default="main",
            description="Destination `ducklake`: the lake schema of this warehouse's tables, "
            "state and views (one per tenant: syncs into different schemas run at once).",
        ),
        th.Property(
            "s3_endpoint",
            th.StringType,
            description="S3-compatible endpoint (`host:port`, e.g. MinIO); default AWS.",
        ),
        th.Property(
            "s3_region",
            th.StringType,
            description="S3 region (default `AWS_REGION` / `AWS_DEFAULT_REGION`).",
        ),
        th.Property(
            "s3_url_style",
            th.StringType(allowed_values=["vhost", "path"]),
            description="`path` for most S3-compatible stores, `vhost` (AWS default).",
        ),
        th.Property(
            "s3_use_ssl",
            th.BooleanType,
            default=True,
            description="HTTPS to the S3 endpoint (false only for a local test store).",
        ),
    ]
