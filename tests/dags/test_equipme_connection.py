"""The `equipme` connection type: what Airflow's ProvidersManager makes of the provider info,
and the one mapping from a connection's fields to tap settings (new type and old JSON-in-extra
connections alike)."""

from __future__ import annotations

import pytest

from tap_equipme.airflow.connection import EquipmeConnectionError, tap_settings_from_connection

KEY = "k-3b9e-DO-NOT-LEAK"


@pytest.fixture(scope="module")
def providers():
    from airflow.providers_manager import ProvidersManager

    return ProvidersManager()


def test_airflow_registers_the_equipme_type_from_the_installed_entry_point(providers):
    from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime

    assert providers.providers["tap-equipme"].data["package-name"] == "tap-equipme"
    # What a task (and the UI's connection test) resolves `equipme` to.
    hook = ProvidersManagerTaskRuntime().hooks["equipme"]
    assert hook is not None
    assert hook.hook_class_name == "tap_equipme.airflow.hook.EquipmeHook"
    assert hook.connection_id_attribute_name == "equipme_conn_id"
    assert hook.hook_name == "Equipme"


def test_the_form_shows_api_url_and_a_masked_api_key_not_json(providers):
    behaviour = providers.field_behaviours["equipme"]
    assert behaviour["relabeling"] == {"host": "API URL", "password": "API key"}
    assert set(behaviour["hidden_fields"]) == {"schema", "port", "login"}
    # The key is Airflow's standard password field: masked in the form, encrypted at rest.
    assert "password" not in behaviour["hidden_fields"]
    assert behaviour["placeholders"]["host"] == "https://api.equipme.io"
    widgets = {
        name.removeprefix("extra__equipme__"): widget
        for name, widget in providers.connection_form_widgets.items()
        if name.startswith("extra__equipme__")
    }
    assert set(widgets) == {"sync_mode", "page_size", "max_requests_per_second"}
    assert widgets["sync_mode"].field["schema"]["title"] == "Sync mode"
    assert not any(widget.is_sensitive for widget in widgets.values())


def test_the_named_fields_are_real_tap_settings():
    from tap_equipme.airflow.provider import CONN_FIELDS
    from tap_equipme.tap import TapEquipme

    properties = TapEquipme.config_jsonschema["properties"]
    assert set(CONN_FIELDS) <= set(properties)
    assert set(CONN_FIELDS["sync_mode"]["schema"]["enum"]) - {None} == set(
        properties["sync_mode"]["enum"]
    )


def test_the_hook_reads_an_equipme_connection_as_tap_settings(monkeypatch):
    from tap_equipme.airflow.hook import EquipmeHook

    monkeypatch.setenv(
        "AIRFLOW_CONN_EQUIPME_TEST",
        '{"conn_type": "equipme", "host": "https://api.equipme.io/", "password": "'
        + KEY
        + '", "extra": {"sync_mode": "incremental", "page_size": 200}}',
    )
    assert EquipmeHook("equipme_test").get_tap_config() == {
        "sync_mode": "incremental",
        "page_size": 200,
        "api_url": "https://api.equipme.io",
        "api_key": KEY,
    }


def test_an_old_http_connection_with_json_in_extra_gives_the_same_settings():
    old = tap_settings_from_connection(
        "equipme_default",
        host="https://api.equipme.io",
        password=KEY,
        extra={"sync_mode": "incremental", "page_size": 200},
    )
    new = tap_settings_from_connection(
        "equipme_default",
        host="https://api.equipme.io",
        password=KEY,
        extra={"extra__equipme__sync_mode": "incremental", "page_size": 200},
    )
    assert (
        old
        == new
        == {
            "sync_mode": "incremental",
            "page_size": 200,
            "api_url": "https://api.equipme.io",
            "api_key": KEY,
        }
    )


def test_a_bare_host_gets_its_scheme_and_port_and_empty_named_fields_are_unset():
    settings = tap_settings_from_connection(
        "c",
        host="127.0.0.1",
        port=8787,
        schema="http",
        password=KEY,
        extra={"page_size": "", "max_requests_per_second": None},
    )
    assert settings == {"api_url": "http://127.0.0.1:8787", "api_key": KEY}


def test_a_connection_without_a_key_is_one_error_naming_it():
    with pytest.raises(EquipmeConnectionError, match="'equipme_default' has no API key"):
        tap_settings_from_connection("equipme_default", host="https://api.equipme.io")


def test_the_ui_test_button_asks_the_api_and_never_shows_the_key(monkeypatch, sandbox, api_key):
    from tap_equipme.airflow.hook import EquipmeHook

    conn = f'{{"conn_type": "equipme", "host": "{sandbox.base_url}", "password": "{api_key}"}}'
    monkeypatch.setenv("AIRFLOW_CONN_EQUIPME_UI", conn)
    ok, message = EquipmeHook("equipme_ui").test_connection()
    assert ok, message
    customers = len(sandbox.control.snapshot()["customers"])
    assert message == f"The Equipme API answered: {customers} customers."
    wrong = conn.replace(api_key, "wrong-key-DO-NOT-LEAK")
    monkeypatch.setenv("AIRFLOW_CONN_EQUIPME_UI", wrong)
    ok, message = EquipmeHook("equipme_ui").test_connection()
    assert not ok
    assert "wrong-key" not in message
