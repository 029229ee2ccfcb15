"""The personal-data policy: which fields are personal, and keep / hash / drop for each.

Applied in the tap, to every record before it is written (`EquipmeStream`'s record path), so
a hashed or dropped value never leaves the tap process. The catalog marks each personal
property `"x-personal-data": true` with its policy, so a loader can find them (the loader's
suppression list blanks exactly those; `warehouse/blanking.py`).

Which fields are personal by default is listed once, by the spec's component and field
(`PERSONAL_COMPONENT_FIELDS`); the stream paths are derived from the vendored spec, so the
account manager's name is found wherever an `EmployeeReference` sits in a `Customer`.
Metadata items are free text: their `value` is personal when the item's `key` matches one of
`personal_data_metadata_keys` (glob patterns, case-insensitive).
"""

from __future__ import annotations

import difflib
import fnmatch
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from singer_sdk import typing as th

from tap_equipme import schemas
from tap_equipme.personal_hash import KEY_ENV, MIN_KEY_LENGTH, Hasher
from tap_equipme.personal_scrub import compile_scrubber

POLICIES = ("keep", "hash", "drop")
DEFAULT_POLICY = "keep"
PERSONAL_MARK = "x-personal-data"
POLICY_MARK = "x-personal-data-policy"
KEYS_MARK = "x-personal-data-keys"

PERSONAL_COMPONENT_FIELDS: dict[str, tuple[str, ...]] = {
    "Customer": ("contactName", "contactEmail", "contactPhone", "description"),
    "EmployeeReference": ("firstName", "lastName", "fullName", "email", "username"),
    "Address": ("line1", "phoneNumber"),
}
"""The one list of personal fields: the spec's components and their fields about a person
(the customer's contact person; an employee: the account manager, a referring employee).

Also free text and address fields that name people in practice, though the spec does not
say so: a customer's `description` ("ask for Jane Doe"), an address's `line1` ("Attn. Jane
Doe", the spec's "company name or P.O. box") and its `phoneNumber` (often the contact's
direct line). They are here, not only in `equipme-sync erase`, because the loader blanks a
suppressed row only in the fields the catalog marks: a field erased but not marked would come
back with the next sync. `equipme-sync erase` blanks exactly `default_personal_fields()`."""

STREAM_COMPONENTS = {"customers": "Customer"}
"""Streams whose records are a spec component (their personal paths come from the spec)."""
METADATA_STREAM = "customer_metadata"
METADATA_FIELD = "value"
METADATA_KEY_FIELD = "key"
DEFAULT_METADATA_KEY_PATTERNS = ("*email*", "*mail*", "*phone*", "*name*", "*contact*")
_STREAM_SCHEMAS: dict[str, Callable[[], dict[str, Any]]] = {
    "customers": schemas.customer_schema,
    METADATA_STREAM: schemas.customer_metadata_schema,
}
TYPO_SIMILARITY = 0.85
"""A `personal_data` field beyond the spec this similar to a spec field's path (difflib's
ratio) is taken for a typo (`contactEmial`), not for a new field (`contactMobile`)."""
_VALUE_KEYWORDS = ("maxLength", "minLength", "pattern", "format", "enum")
"""Keywords a hashed value no longer meets (it is 64 hex characters)."""

SETTINGS = [
    th.Property(
        "personal_data",
        th.ObjectType(additional_properties=th.StringType(allowed_values=list(POLICIES))),
        description="Per personal field, `keep`, `hash` or `drop`, keyed `<stream>.<field "
        "path>` (e.g. `customers.contactEmail`, `customers.accountManager.lastName`, "
        "`customer_metadata.value`). A field named here that is not personal by default "
        "becomes personal; one beyond the spec applies whenever the API sends it. See "
        "docs/personal-data.md.",
    ),
    th.Property(
        "personal_data_default",
        th.StringType(allowed_values=list(POLICIES)),
        default=DEFAULT_POLICY,
        description="Policy of every personal field not named in `personal_data`: keep "
        "(default; erasure needed later), hash (keyed HMAC-SHA-256: joins still work, needs "
        "`personal_data_key`) or drop (the value never leaves the tap; the column stays NULL).",
    ),
    th.Property(
        "personal_data_metadata_keys",
        th.ArrayType(th.StringType),
        default=list(DEFAULT_METADATA_KEY_PATTERNS),
        description="Metadata keys whose value is personal (glob patterns, case-insensitive).",
    ),
    th.Property(
        "personal_data_key",
        th.StringType,
        secret=True,
        description=f"The secret key of `hash` (at least {MIN_KEY_LENGTH} characters); "
        f"best set as the environment variable {KEY_ENV}. Never logged; losing it breaks "
        "joins with earlier hashes, leaking it allows dictionary attacks on them.",
    ),
]


def _spec_paths(component: str, prefix: str = "", depth: int = 0) -> Iterator[str]:
    """Yield the paths of the personal fields of a spec component, following `$ref`s."""
    if depth > 8:  # the spec has no cycles; a bound keeps a bad spec from looping
        return
    properties = schemas.component(component).get("properties", {})
    for name, prop in properties.items():
        if name in PERSONAL_COMPONENT_FIELDS.get(component, ()):
            yield f"{prefix}{name}"
        ref = prop.get("$ref") or prop.get("items", {}).get("$ref")
        if isinstance(ref, str):
            yield from _spec_paths(ref.rsplit("/", 1)[-1], f"{prefix}{name}.", depth + 1)


def default_personal_fields() -> list[str]:
    """Return the personal fields by default, as `<stream>.<field path>`.

    Returns:
        The fields, derived from the spec (plus the metadata items' `value`).
    """
    fields = [
        f"{stream}.{path}"
        for stream, component in STREAM_COMPONENTS.items()
        for path in _spec_paths(component)
    ]
    return [*fields, f"{METADATA_STREAM}.{METADATA_FIELD}"]


def _property(schema: dict[str, Any], path: list[str]) -> dict[str, Any] | None:
    node: Any = schema
    for name in path:
        node = node.get("properties", {}).get(name) if isinstance(node, dict) else None
        if not isinstance(node, dict):
            return None
    return node


@dataclass(frozen=True)
class PersonalDataPolicy:
    """The run's policy: a policy per personal field, the metadata key patterns, the hasher."""

    fields: dict[str, str]
    """`<stream>.<field path>` -> keep / hash / drop (every personal field)."""
    metadata_keys: tuple[str, ...]
    hasher: Hasher | None

    @classmethod
    def from_config(
        cls, config: Mapping[str, Any], environ: Mapping[str, str]
    ) -> PersonalDataPolicy:
        """Build the policy from the tap's settings (check them first: `config_problems`).

        Args:
            config: The tap's settings.
            environ: The environment (the key's variable).

        Returns:
            The policy.
        """
        default = str(config.get("personal_data_default") or DEFAULT_POLICY)
        fields = dict.fromkeys(default_personal_fields(), default)
        fields.update({k: str(v) for k, v in (config.get("personal_data") or {}).items()})
        patterns = config.get("personal_data_metadata_keys")
        if patterns is None:
            patterns = DEFAULT_METADATA_KEY_PATTERNS
        key = config.get("personal_data_key") or environ.get(KEY_ENV)
        hashing = "hash" in fields.values()
        return cls(
            fields,
            tuple(str(p).lower() for p in patterns),
            Hasher(str(key)) if hashing and key else None,
        )

    def stream_fields(self, stream: str) -> dict[str, str]:
        """Return one stream's personal fields (field path -> policy).

        Args:
            stream: Stream name.

        Returns:
            Dotted field paths and their policies.
        """
        prefix = f"{stream}."
        return {k.removeprefix(prefix): v for k, v in self.fields.items() if k.startswith(prefix)}

    def mark_schema(self, stream: str, schema: dict[str, Any]) -> dict[str, Any]:
        """Mark a stream's personal properties in its JSON Schema (in place).

        Args:
            stream: Stream name.
            schema: The stream's JSON Schema.

        Returns:
            The same schema.
        """
        for path, policy in self.stream_fields(stream).items():
            prop = _property(schema, path.split("."))
            if prop is None:
                continue
            prop[PERSONAL_MARK] = True
            prop[POLICY_MARK] = policy
            if stream == METADATA_STREAM and path == METADATA_FIELD:
                prop[KEYS_MARK] = list(self.metadata_keys)
            if policy == "hash":
                for keyword in _VALUE_KEYWORDS:
                    prop.pop(keyword, None)
                for keyword in ("properties", "items", "additionalProperties"):
                    prop.pop(keyword, None)  # a hashed object or number is a string now
                prop["type"] = ["string", "null"]
            elif policy == "drop":
                _nullable(prop)
        return schema

    def scrubber(self, stream: str) -> Callable[[dict[str, Any]], dict[str, Any]] | None:
        """Return the function that applies the policy to one record of a stream.

        Args:
            stream: Stream name.

        Returns:
            record -> record to emit (a copy where a value changes), or None when the stream
            has nothing to hash or drop (the record path then costs nothing).
        """
        tree: dict[str, Any] = {}  # field -> a subtree, a Hasher (hash) or None (drop)
        # Outer paths first: a whole object hashed or dropped covers the fields inside it.
        for path, policy in sorted(self.stream_fields(stream).items(), key=_depth):
            if policy == "keep":
                continue
            *parents, leaf = path.split(".")
            node: Any = tree
            for name in parents:
                node = node.setdefault(name, {}) if isinstance(node, dict) else None
            if isinstance(node, dict):
                node[leaf] = self._value_function(policy)
        if not tree:
            return None
        scrub = compile_scrubber(tree)
        if stream != METADATA_STREAM:
            return scrub
        return _by_metadata_key(scrub, self.metadata_keys)

    def _value_function(self, policy: str) -> Hasher | None:
        if policy == "drop":
            return None
        if self.hasher is None:  # refused by config_problems before any record
            msg = f"Policy 'hash' needs the key ({KEY_ENV} or setting 'personal_data_key')."
            raise ValueError(msg)
        return self.hasher


def _schema_paths(schema: dict[str, Any], prefix: str = "") -> list[str]:
    """Every dotted property path of a JSON Schema (objects only, not array items)."""
    paths = []
    for name, prop in schema.get("properties", {}).items():
        paths.append(f"{prefix}{name}")
        if isinstance(prop, dict):
            paths.extend(_schema_paths(prop, f"{prefix}{name}."))
    return paths


def _depth(item: tuple[str, str]) -> int:
    return item[0].count(".")


def _nullable(prop: dict[str, Any]) -> None:
    kinds = prop.get("type")
    if isinstance(kinds, str):
        prop["type"] = [kinds, "null"]
    elif isinstance(kinds, list) and "null" not in kinds:
        prop["type"] = [*kinds, "null"]


def _by_metadata_key(
    scrub: Callable[[dict[str, Any]], dict[str, Any]], patterns: tuple[str, ...]
) -> Callable[[dict[str, Any]], dict[str, Any]] | None:
    if not patterns:
        return None
    matches = re.compile("|".join(fnmatch.translate(p) for p in patterns)).match
    seen: dict[str, bool] = {}

    def scrub_personal_keys(record: dict[str, Any]) -> dict[str, Any]:
        key = record.get(METADATA_KEY_FIELD)
        if not isinstance(key, str):
            return record
        personal = seen.get(key)
        if personal is None:
            personal = seen[key] = matches(key.lower()) is not None
        return scrub(record) if personal else record

    return scrub_personal_keys


def config_problems(config: Mapping[str, Any], environ: Mapping[str, str]) -> list[str]:
    """Check the personal-data settings (one sentence per problem; the key never repeated).

    Args:
        config: The tap's settings.
        environ: The environment (the key's variable).

    Returns:
        The problems.
    """
    problems = []
    fields = config.get("personal_data") or {}
    if not isinstance(fields, Mapping):
        return ["Setting 'personal_data' must be an object of '<stream>.<field path>': policy."]
    for name, policy in fields.items():
        if policy not in POLICIES:
            problems.append(
                f"Setting 'personal_data': {name!r} has policy {policy!r}; use one of "
                f"{list(POLICIES)}."
            )
        stream, _, path = str(name).partition(".")
        if stream not in _STREAM_SCHEMAS:
            problems.append(
                f"Setting 'personal_data': {name!r} names no stream with fields of its own; "
                f"use '<stream>.<field path>' with a stream of {sorted(_STREAM_SCHEMAS)}."
            )
        elif not path:
            problems.append(
                f"Setting 'personal_data': {name!r} names no field (a nested field is written "
                "with dots, e.g. 'customers.accountManager.email')."
            )
        elif _property(_STREAM_SCHEMAS[stream](), path.split(".")) is None:
            # A field beyond the spec applies whenever the API sends it; one that looks like
            # a spec field mistyped would leave the real one in clear, so it is refused.
            spec_paths = _schema_paths(_STREAM_SCHEMAS[stream]())
            close = difflib.get_close_matches(path, spec_paths, cutoff=TYPO_SIMILARITY)
            if close:
                problems.append(
                    f"Setting 'personal_data': {name!r}: stream {stream!r} has no field "
                    f"{path!r} in the spec; did you mean '{stream}.{close[0]}'? (A field "
                    "beyond the spec is accepted unless its name is this close to a spec "
                    "field's.)"
                )
    patterns = config.get("personal_data_metadata_keys")
    if patterns is not None and (
        not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns)
    ):
        problems.append("Setting 'personal_data_metadata_keys' must be a list of glob patterns.")
    default = config.get("personal_data_default") or DEFAULT_POLICY
    hashed = [k for k, v in fields.items() if v == "hash"]
    if default == "hash" or hashed:
        key = config.get("personal_data_key") or environ.get(KEY_ENV)
        reason = (
            "'personal_data_default' is 'hash'"
            if default == "hash"
            else (f"'personal_data' hashes {', '.join(map(repr, hashed))}")
        )
        if not key:
            problems.append(
                f"Setting 'personal_data_key' (environment variable {KEY_ENV}) is not set, but "
                f"{reason}: hashing needs a secret key. Set it (at least {MIN_KEY_LENGTH} "
                "random characters; keep it, joins with earlier hashes depend on it), or "
                "choose 'keep' or 'drop'."
            )
        elif len(str(key)) < MIN_KEY_LENGTH:
            problems.append(
                f"Setting 'personal_data_key' (environment variable {KEY_ENV}) is shorter than "
                f"{MIN_KEY_LENGTH} characters: too easy to guess for a key that protects "
                "hashed emails from a dictionary attack."
            )
    return problems
