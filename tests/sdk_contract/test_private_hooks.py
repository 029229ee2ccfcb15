"""Contract tests: the private singer-sdk hooks tap-equipme still relies on.

singer-sdk is pinned below 0.56 because these are private: an upgrade can change them without
notice. Each test checks one hook, the way we use it, and fails with a message naming the hook
and the tap-equipme code that depends on it, so moving the pin is a test run, not an
investigation. Hooks a public API could replace are gone (`_sync_children` -> `Stream.sync`,
`helpers._util.utc_now`, `helpers._typing`); what is left has no public equivalent in 0.54/0.55.
"""

from __future__ import annotations

import inspect
import io
import json
import typing as t

import pytest
from singer_sdk import Stream, Target
from singer_sdk.configuration import _dict_config
from singer_sdk.helpers import _classproperty
from singer_sdk.plugin_base import BaseSingerReader, PluginBase
from singer_sdk.singerlib.encoding.base import GenericSingerReader

from tap_equipme.tap import TapEquipme
from tap_equipme.warehouse.target import TargetDuckdbLake


def _params(function: t.Callable[..., t.Any]) -> list[str]:
    return list(inspect.signature(function).parameters)


def _calls(owner: t.Callable[..., t.Any], hook: str) -> bool:
    return f"{hook}(" in inspect.getsource(owner)


def _contract(ok: bool, hook: str, used_by: str, why: str) -> None:
    assert ok, (
        f"singer-sdk changed the private hook `{hook}`: {used_by} overrides or calls it "
        f"({why}). Read the new singer-sdk code for `{hook}` and adapt {used_by} before "
        "moving the singer-sdk pin."
    )


def test_write_activate_version_message_still_takes_the_version_and_is_called_per_refresh():
    hook = "Stream._write_activate_version_message"
    used_by = "tap_equipme/client.py EquipmeStream"
    why = "versions a full refresh by the tap's start in milliseconds, not seconds"
    _contract(
        _params(Stream._write_activate_version_message) == ["self", "full_table_version"],
        hook,
        used_by,
        why,
    )
    source = inspect.getsource(Stream.sync)
    _contract(
        "self._stream_version = self._initialized_at // 1000" in source
        and "self._write_activate_version_message(self._stream_version)" in source,
        hook,
        used_by,
        why + "; it expects the SDK to set `_stream_version = _initialized_at // 1000` first",
    )


def test_generate_record_messages_is_still_the_per_record_hook():
    hook = "Stream._generate_record_messages"
    used_by = "tap_equipme/client.py EquipmeStream"
    why = "skips the per-record selection walk when every property is selected"
    _contract(_params(Stream._generate_record_messages) == ["self", "record"], hook, used_by, why)
    source = inspect.getsource(Stream)
    _contract(
        "self._generate_record_messages(" in source and "version=self._stream_version" in source,
        hook,
        used_by,
        why + "; records carry `self._stream_version`",
    )


def test_validate_config_still_returns_the_errors_and_runs_at_start():
    hook = "PluginBase._validate_config"
    used_by = "tap_equipme/tap.py TapEquipme"
    why = "adds the tap's own setting checks and redacts the API key in the messages"
    _contract(_params(PluginBase._validate_config) == ["self", "raise_errors"], hook, used_by, why)
    _contract(_calls(PluginBase.__init__, "self._validate_config"), hook, used_by, why)
    errors = TapEquipme(config={"api_key": "k", "page_size": 0}, validate_config=False)
    found = errors._validate_config(raise_errors=False)
    _contract(any("page_size" in e for e in found), hook, used_by, why)


def test_env_var_config_is_still_a_classproperty_read_for_config_env():
    hook = "PluginBase._env_var_config"
    used_by = "tap_equipme/tap.py TapEquipme"
    why = "parses numeric TAP_EQUIPME_* values so a bad one gets a clear message"
    _contract(
        isinstance(
            inspect.getattr_static(PluginBase, "_env_var_config"), _classproperty.classproperty
        ),
        hook,
        used_by,
        why,
    )
    _contract(
        _params(_dict_config.parse_environment_config)[:2] == ["config_schema", "prefix"],
        "configuration._dict_config.parse_environment_config",
        used_by,
        why,
    )
    source = inspect.getsource(PluginBase)
    _contract(
        "cls._env_var_config" in source or "self._env_var_config" in source, hook, used_by, why
    )


@pytest.mark.parametrize(
    ("hook", "params", "why"),
    [
        ("_process_schema_message", ["self", "message_dict"], "rejects incompatible schemas early"),
        ("_process_record_message", ["self", "message_dict"], "tracks each record's version"),
        (
            "_process_activate_version_message",
            ["self", "message_dict"],
            "drains the batch before judging a version",
        ),
        ("_write_state_message", ["self", "state"], "commits the state with its data first"),
        (
            "_process_state_message",
            ["self", "message_dict"],
            "notes which streams a STATE confirms (activate_version_mode opening)",
        ),
    ],
)
def test_target_message_hooks_keep_their_signature_and_dispatch(hook, params, why):
    used_by = "tap_equipme/warehouse/target.py TargetDuckdbLake"
    _contract(_params(getattr(Target, hook)) == params, f"Target.{hook}", used_by, why)
    # The SDK's message loop (BaseSingerReader.process_lines) dispatches each message type to it.
    source = inspect.getsource(BaseSingerReader.process_lines)
    _contract(
        f"self.{hook}" in source or hook == "_write_state_message", f"Target.{hook}", used_by, why
    )
    if hook == "_write_state_message":
        _contract(
            "self._write_state_message(" in inspect.getsource(Target),
            f"Target.{hook}",
            used_by,
            why,
        )


def test_handle_termination_is_still_the_signal_handler():
    hook = "PluginBase._handle_termination"
    used_by = "tap_equipme/warehouse/target.py TargetDuckdbLake"
    why = "rolls back the open batch on SIGTERM / SIGINT instead of committing it"
    _contract(
        _params(PluginBase._handle_termination) == ["self", "signum", "frame"], hook, used_by, why
    )
    source = inspect.getsource(PluginBase)
    _contract("signal.SIGTERM, self._handle_termination" in source, hook, used_by, why)


def test_sinks_active_is_still_the_stream_to_sink_map(tmp_path):
    hook = "Target._sinks_active"
    used_by = "tap_equipme/warehouse/target.py TargetDuckdbLake.active_sink"
    why = "finds a stream's current sink without creating one"
    target = TargetDuckdbLake(config={"path": str(tmp_path / "w.duckdb")})
    try:
        schema = {"type": "object", "properties": {"id": {"type": "integer"}}}
        target.listen(
            io.StringIO(
                json.dumps(
                    {"type": "SCHEMA", "stream": "s", "schema": schema, "key_properties": ["id"]}
                )
                + "\n"
            )
        )
    except SystemExit:
        pass
    _contract(isinstance(getattr(target, "_sinks_active", None), dict), hook, used_by, why)


def test_reader_unknown_message_hook_is_still_there():
    hook = "GenericSingerReader._process_unknown_message"
    used_by = "tap_equipme/warehouse/reader.py LazyRecordReader.process_lines"
    why = "the reader's own loop hands unknown message types to the SDK's handler"
    _contract(
        _params(GenericSingerReader._process_unknown_message) == ["self", "message_dict"],
        hook,
        used_by,
        why,
    )


def test_stream_tap_attribute_is_still_the_owning_tap():
    hook = "Stream._tap"
    used_by = "tap_equipme/client.py EquipmeStream.owner"
    why = "streams reach the shared API client and their sibling streams through the tap"
    tap = TapEquipme(config={"api_key": "k"}, validate_config=False)
    stream = tap.streams["customers"]
    _contract(getattr(stream, "_tap", None) is tap, hook, used_by, why)
    _contract(stream._initialized_at == tap.initialized_at, "Stream._initialized_at", used_by, why)


def test_a_stream_can_write_its_schema_and_records_before_its_own_sync():
    hook = "Stream._write_schema_message / Stream._write_record_message"
    used_by = "tap_equipme/metadata_streams.py CustomerMetadataReadsStream.emit_now"
    why = (
        "writes reads rows at each checkpoint of the metadata phase, before the reads "
        "stream's own sync, so that the STATE after them covers them"
    )
    _contract(
        _params(Stream._write_schema_message) == ["self"]
        and _params(Stream._write_record_message) == ["self", "record"]
        and _calls(Stream._write_record_message, "self._generate_record_messages"),
        hook,
        used_by,
        why,
    )


def test_the_tap_state_writer_writes_a_state_mid_stream():
    hook = "Tap.state_writer.write_state"
    used_by = "tap_equipme/streams.py CustomersStream.checkpoint"
    why = "emits a checkpoint STATE (run_progress) in the middle of the metadata phase"
    from singer_sdk import Tap

    writer = inspect.getattr_static(Tap, "state_writer", None)
    _contract(
        writer is not None and _calls(Stream._write_state_message, "state_writer.write_state"),
        hook,
        used_by,
        why,
    )


def test_get_selected_schema_keeps_the_personal_data_marks() -> None:
    from singer_sdk.helpers._catalog import get_selected_schema
    from singer_sdk.singerlib import Catalog

    tap = TapEquipme(config={"api_key": "contract-test-key", "api_url": "http://127.0.0.1:9"})
    entry = tap.catalog.get_stream("customers")
    assert entry is not None
    schema = tap.personal_data.mark_schema("customers", entry.schema.to_dict())
    selected = get_selected_schema("customers", schema, entry.metadata.resolve_selection())
    _contract(
        _params(get_selected_schema) == ["stream_name", "schema", "mask"]
        and selected["properties"]["contactEmail"].get("x-personal-data") is True,
        "helpers._catalog.get_selected_schema",
        "TapEquipme.setup_mapper",
        "it re-registers the stream maps with the marked schema, so SCHEMA messages carry "
        "x-personal-data",
    )
    # Why the re-registration exists: the catalog's Schema objects drop unknown keywords.
    # If singer-sdk starts keeping them, setup_mapper's override can go.
    dropped = Catalog.from_dict({"streams": [{"tap_stream_id": "s", "schema": schema}]})
    assert "x-personal-data" not in json.dumps(dropped.to_dict())
    assert "x-personal-data" in json.dumps(
        tap.mapper.stream_maps["customers"][0].transformed_schema
    )
