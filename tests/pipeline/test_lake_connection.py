"""The lake Connection -> catalog, settings and credentials, the secrets kept apart."""

from __future__ import annotations

import os

import pytest

from tap_equipme.pipeline.lake_connection import (
    LakeConnectionError,
    lake_environment,
    lake_from_connection,
)

FIELDS = {
    "host": "catalog.internal",
    "port": 5432,
    "schema": "equipme_lake",
    "login": "loader",
    "password": "pg-Secret-1",
    "extra": {
        "data_path": "s3://lake-bucket/equipme/",
        "s3_endpoint": "minio.internal:9000",
        "s3_region": "eu-west-1",
        "s3_url_style": "path",
        "s3_use_ssl": False,
        "aws_access_key_id": "AKIAEXAMPLE",
        "aws_secret_access_key": "s3-Secret-2",
    },
}


def test_the_secrets_go_only_into_credentials_and_never_into_catalog_settings_or_repr():
    target = lake_from_connection("equipme_lake", **FIELDS)
    assert (
        target.catalog == "postgres:host=catalog.internal port=5432 dbname=equipme_lake user=loader"
    )
    assert target.settings == {
        "lake_data_path": "s3://lake-bucket/equipme/",
        "s3_endpoint": "minio.internal:9000",
        "s3_region": "eu-west-1",
        "s3_url_style": "path",
        "s3_use_ssl": False,
    }
    assert target.credentials == {
        "PGPASSWORD": "pg-Secret-1",
        "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "s3-Secret-2",
    }
    shown = f"{target!r} {target.catalog} {target.settings}"
    assert "pg-Secret-1" not in shown
    assert "s3-Secret-2" not in shown


def test_a_socket_directory_host_without_port_login_or_password_gives_a_bare_catalog():
    target = lake_from_connection(
        "lake", host="/run/pg dir", port=None, schema="lake", login=None, password=None, extra=None
    )
    assert target.catalog == "postgres:host='/run/pg dir' dbname=lake"
    assert target.settings == {}
    assert target.credentials == {}


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"host": ""}, "host is empty"),
        ({"schema": None}, "schema is empty"),
        ({"extra": {"datapath": "/lake"}}, "unknown extra field(s) datapath"),
        ({"extra": {"s3_use_ssl": "no"}}, "s3_use_ssl must be true or false"),
        ({"extra": {"data_path": 3}}, "data_path must be a string"),
        ({"extra": {"aws_secret_access_key": "s3-Secret-2"}}, "set both aws_access_key_id"),
    ],
)
def test_a_bad_connection_is_an_error_naming_the_field_and_not_the_secret(change, named):
    with pytest.raises(LakeConnectionError) as info:
        lake_from_connection("equipme_lake", **{**FIELDS, **change})
    assert named in str(info.value)
    assert "Connection 'equipme_lake'" in str(info.value)
    assert "s3-Secret-2" not in str(info.value)
    assert "pg-Secret-1" not in str(info.value)


def test_lake_environment_sets_the_credentials_for_the_block_only(monkeypatch):
    monkeypatch.setenv("AWS_REGION", "kept")
    monkeypatch.setenv("PGPASSWORD", "outer")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY", raising=False)
    with lake_environment({"PGPASSWORD": "inner", "AWS_SECRET_ACCESS_KEY": "s3"}):
        assert os.environ["PGPASSWORD"] == "inner"
        assert os.environ["AWS_SECRET_ACCESS_KEY"] == "s3"
    assert os.environ["PGPASSWORD"] == "outer"
    assert "AWS_SECRET_ACCESS_KEY" not in os.environ
    assert os.environ["AWS_REGION"] == "kept"
