"""Contract tests: the private singer-sdk parts a widened schema goes through.

`EquipmeStream._adopt_schema` (tap_equipme/client.py) makes a widened schema the stream's own:
it sets `Stream._schema`, re-registers the stream with the tap's mapper, forgets the cached
`Stream._stream_maps` and sends `Stream._write_schema_message()`.
"""

from __future__ import annotations

import inspect

from singer_sdk import Stream
from singer_sdk.mapper import PluginMapper

USED_BY = "tap_equipme/client.py EquipmeStream._adopt_schema"


def _contract(ok: bool, hook: str, why: str) -> None:
    assert ok, (
        f"singer-sdk changed the private hook `{hook}`: {USED_BY} relies on it ({why}). Read "
        f"the new singer-sdk code for `{hook}` and adapt {USED_BY} before moving the pin."
    )


def test_stream_schema_is_read_from_the_private_attribute():
    source = inspect.getsource(Stream.schema.fget)  # type: ignore[attr-defined]
    _contract("return self._schema" in source, "Stream.schema", "sets `_schema` to widen")


def test_stream_maps_are_cached_in_the_private_attribute_and_rebuilt_when_cleared():
    source = inspect.getsource(Stream.stream_maps.fget)  # type: ignore[attr-defined]
    _contract(
        "if self._stream_maps:" in source and "self._tap.mapper.stream_maps[self.name]" in source,
        "Stream.stream_maps",
        "clears `_stream_maps` so the re-registered maps are used",
    )


def test_schema_messages_come_from_the_stream_maps():
    source = inspect.getsource(Stream._generate_schema_messages)
    _contract(
        "stream_map.transformed_schema" in source,
        "Stream._generate_schema_messages",
        "the widened SCHEMA is the maps' transformed schema",
    )
    _contract(
        list(inspect.signature(Stream._write_schema_message).parameters) == ["self"],
        "Stream._write_schema_message",
        "called with no argument",
    )


def test_the_mapper_replaces_a_registration_whose_schema_changed():
    source = inspect.getsource(PluginMapper.register_raw_stream_schema)
    _contract(
        "self.stream_maps.pop(stream_name)" in source,
        "PluginMapper.register_raw_stream_schema",
        "registering the widened schema must replace the old maps",
    )
