"""`tap-equipme`: the Singer tap for the Equipme Supplier API (customers and their metadata)."""

from __future__ import annotations

import copy
import io
import json
import logging
import os
import sys
from functools import cached_property
from typing import Any

from singer_sdk import Stream, Tap
from singer_sdk import typing as th
from singer_sdk.configuration._dict_config import parse_environment_config
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.helpers._catalog import get_selected_schema
from singer_sdk.helpers._classproperty import classproperty
from typing_extensions import override

from tap_equipme import __version__, personal_data
from tap_equipme.client import RUN_STATS_KEY, SYNC_MODES
from tap_equipme.config_checks import (
    UNKNOWN_FIELDS_POLICIES,
    config_problems,
    parse_number,
    unknown_settings,
)
from tap_equipme.errors import EquipmeConfigError, EquipmeError
from tap_equipme.http import redaction
from tap_equipme.http.api_client import (
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_REQUEST_DEADLINE_S,
    ApiClient,
)
from tap_equipme.http.rate_limiter import RateLimiter
from tap_equipme.http.retry import RetryPolicy
from tap_equipme.listing.checkpoint import DEFAULT_EVERY_CUSTOMERS, DEFAULT_INTERVAL_SECONDS
from tap_equipme.metadata_streams import CustomerMetadataReadsStream, CustomerMetadataStream
from tap_equipme.personal_hash import KEY_ENV
from tap_equipme.singer_output import FastSingerWriter
from tap_equipme.streams import CustomersStream

DEFAULT_API_URL = "https://api.equipme.io"
DEFAULT_USER_AGENT = f"tap-equipme/{__version__}"

CONFIG_SCHEMA = th.PropertiesList(
    th.Property(
        "api_key",
        th.StringType,
        required=True,
        secret=True,
        description="Equipme API key, sent only in the X-API-KEY header. Full tenant access: "
        "keep it secret.",
    ),
    th.Property(
        "api_url",
        th.StringType,
        default=DEFAULT_API_URL,
        description="Base URL of the API (https; plain http only for loopback hosts).",
    ),
    th.Property(
        "start_date",
        th.DateTimeType,
        description="createdAfter of the first run (ISO-8601); later runs use the bookmark.",
    ),
    th.Property(
        "page_size", th.IntegerType, default=1000, description="Customers per page, 1..1000."
    ),
    th.Property("active", th.BooleanType, description="Only active (true) or inactive (false)."),
    th.Property(
        "customer_numbers",
        th.ArrayType(th.StringType),
        description="Only customers with these customer numbers.",
    ),
    th.Property(
        "names", th.ArrayType(th.StringType), description="Only customers with these names."
    ),
    th.Property(
        "metadata_concurrency",
        th.IntegerType,
        default=8,
        description="Metadata requests in flight at most (1 = sequential), 1..64.",
    ),
    th.Property(
        "max_requests_per_second",
        th.NumberType,
        description="Cap on the tap's request rate (all requests of a run), for tenants who "
        "know their limit; none (default): found from 429 answers, full speed until then.",
    ),
    th.Property(
        "adaptive_rate_limit",
        th.BooleanType,
        default=True,
        description="Find the API's rate limit from 429 answers and stay just under it, with "
        "every worker pausing for a Retry-After (false: each request waits alone, as before).",
    ),
    th.Property(
        "request_timeout",
        th.NumberType,
        default=60,
        description="Seconds to wait for a connection and for each read.",
    ),
    th.Property(
        "request_deadline",
        th.NumberType,
        default=DEFAULT_REQUEST_DEADLINE_S,
        description="Seconds one request may take in all, headers and body (a server that "
        "drips its answer ends in an error after this long).",
    ),
    th.Property(
        "max_response_bytes",
        th.IntegerType,
        default=DEFAULT_MAX_RESPONSE_BYTES,
        description="Largest response body accepted, counted after decompression (a list page "
        "of 1,000 customers is about 1 MB); a larger one stops the run with an error.",
    ),
    th.Property(
        "max_retries",
        th.IntegerType,
        default=5,
        description="Retries of a request after a 5xx, a timeout, a dropped connection or a "
        "bad body (429s have a budget of their own).",
    ),
    th.Property(
        "lookback",
        th.NumberType,
        default=5,
        description="Minutes subtracted from the sync start time to make the next bookmark.",
    ),
    th.Property(
        "full_refresh",
        th.BooleanType,
        default=False,
        description="Ignore bookmark and start_date, read everything, emit ACTIVATE_VERSION.",
    ),
    th.Property(
        "sync_mode",
        th.StringType(allowed_values=list(SYNC_MODES)),
        default="change_capture",
        description="change_capture: re-list every customer each run (edits, deletions and "
        "come-backs reach the warehouse), metadata of new customers plus a rolling slice; "
        "incremental: only customers created since the bookmark (cheapest). full_refresh "
        "overrides both.",
    ),
    th.Property(
        "metadata_refresh_days",
        th.NumberType,
        default=7,
        description="Change capture: every customer's metadata is re-read at least once per "
        "this many days, a slice each run sized by the time since the previous run.",
    ),
    th.Property(
        "checkpoint_every_customers",
        th.IntegerType(minimum=1),
        default=DEFAULT_EVERY_CUSTOMERS,
        description="During the metadata phase, emit a STATE recording how far the run got "
        "every this many customers (or `checkpoint_interval_seconds`, whichever first); an "
        "interrupted run resumes from the last one the loader committed.",
    ),
    th.Property(
        "checkpoint_interval_seconds",
        th.NumberType,
        default=DEFAULT_INTERVAL_SECONDS,
        description="Seconds between checkpoint STATEs during the metadata phase (see "
        "`checkpoint_every_customers`).",
    ),
    th.Property(
        "restart",
        th.BooleanType,
        default=False,
        description="Ignore an interrupted run recorded in the state and start over (by "
        "default a run continues an unfinished run of the same mode).",
    ),
    th.Property(
        "user_agent", th.StringType, default=DEFAULT_USER_AGENT, description="User-Agent header."
    ),
    th.Property(
        "unknown_fields",
        th.StringType(allowed_values=list(UNKNOWN_FIELDS_POLICIES)),
        default="keep",
        description="Fields the API sends but the spec does not declare: keep (add them to "
        "the schema, types inferred), drop (with a warning) or fail (stop, naming them).",
    ),
    th.Property(
        "backoff_factor",
        th.NumberType,
        default=1.0,
        description="Multiplies every retry wait (advanced; tests use a small value).",
    ),
    *personal_data.SETTINGS,
).to_dict()


class TapEquipme(Tap):
    """Singer tap for the Equipme Supplier API."""

    name = "tap-equipme"
    package_name = "tap-equipme"
    config_jsonschema = CONFIG_SCHEMA
    message_writer_class = FastSingerWriter

    @classproperty
    def _env_var_config(cls) -> dict[str, Any]:
        """Settings from `TAP_EQUIPME_*` variables, numbers parsed here rather than by the SDK.

        singer-sdk leaves number settings as strings and raises a bare ValueError on a bad
        integer; here every numeric value that parses becomes a number, and one that does not
        stays a string, so validation names the setting in a clear message.

        Returns:
            The settings found in the environment.
        """
        schema = copy.deepcopy(cls.config_jsonschema)
        cls.append_builtin_config(schema)
        numeric = []
        for name, prop in schema.get("properties", {}).items():
            kinds = prop.get("type", [])
            kinds = [kinds] if isinstance(kinds, str) else kinds
            if {"integer", "number"} & set(kinds):
                numeric.append(name)
                schema["properties"][name] = {"type": ["string", "null"]}
        settings = parse_environment_config(schema, cls._env_var_prefix)
        for name in numeric:
            if isinstance(settings.get(name), str):
                settings[name] = parse_number(settings[name])
        return settings

    @override
    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        # The SDK's schema check first (values redacted), then rules a schema cannot say.
        errors = super()._validate_config(raise_errors=False)
        secret = self.config.get("api_key")
        if isinstance(secret, str) and secret:
            # From here on no log line of this process carries the key (an API error body
            # may echo it).
            redaction.install(secret)
            errors = [error.replace(secret, "***") for error in errors]
        errors.extend(config_problems(self.config))
        errors.extend(personal_data.config_problems(self.config, os.environ))
        # The hashing key is a secret too: masked in every log record from here on.
        redaction.install(self.config.get("personal_data_key") or os.environ.get(KEY_ENV))
        for name in unknown_settings(self.config, self.config_jsonschema):
            self.logger.warning("Unknown setting %r in the tap config: ignored", name)
        if errors and raise_errors:
            raise ConfigValidationError(
                "Config validation failed", errors=errors, schema=self.config_jsonschema
            )
        return errors

    @cached_property
    def api_client(self) -> ApiClient:
        """The pooled API client shared by every stream of this run."""
        config = self.config
        concurrency = int(config.get("metadata_concurrency", 8))
        return ApiClient(
            str(config.get("api_url", DEFAULT_API_URL)),
            str(config["api_key"]),
            timeout=float(config.get("request_timeout", 60)),
            policy=RetryPolicy(
                max_retries=int(config.get("max_retries", 5)),
                backoff_factor=float(config.get("backoff_factor", 1.0)),
            ),
            user_agent=str(config.get("user_agent", DEFAULT_USER_AGENT)),
            pool_size=concurrency + 2,
            max_response_bytes=int(config.get("max_response_bytes", DEFAULT_MAX_RESPONSE_BYTES)),
            request_deadline=float(config.get("request_deadline", DEFAULT_REQUEST_DEADLINE_S)),
            limiter=RateLimiter(
                max_concurrency=concurrency,
                max_rate=float(cap) if (cap := config.get("max_requests_per_second")) else None,
                adaptive=bool(config.get("adaptive_rate_limit", True)),
            ),
        )

    @cached_property
    def personal_data(self) -> personal_data.PersonalDataPolicy:
        """The run's personal-data policy (settings checked by `_validate_config`)."""
        return personal_data.PersonalDataPolicy.from_config(self.config, os.environ)

    @override
    def setup_mapper(self) -> None:
        # singer-sdk builds the stream maps (and so the SCHEMA messages) from the catalog,
        # whose Schema objects keep no `x-personal-data`: mark them again, so the loader
        # knows which fields are personal whatever catalog the run was given.
        super().setup_mapper()
        for entry in self.catalog.streams:
            name = entry.stream or entry.tap_stream_id
            schema = self.personal_data.mark_schema(name, entry.schema.to_dict())
            self.mapper.register_raw_stream_schema(
                name,
                get_selected_schema(name, schema, entry.metadata.resolve_selection()),
                entry.key_properties,
            )

    @property
    @override
    def catalog_dict(self) -> dict:
        # --discover: the catalog shows which fields are personal and their policy.
        catalog = super().catalog_dict
        for entry in catalog.get("streams", []):
            self.personal_data.mark_schema(entry["tap_stream_id"], entry["schema"])
        return catalog

    @override
    def discover_streams(self) -> list[Stream]:
        return [
            CustomersStream(self),
            CustomerMetadataStream(self),
            CustomerMetadataReadsStream(self),
        ]

    @override
    def load_state(self, state: dict[str, Any]) -> None:
        # singer-sdk fails with an AttributeError deep inside on a malformed state.
        bookmarks = state.get("bookmarks", {}) if isinstance(state, dict) else None
        if not isinstance(bookmarks, dict) or not all(
            isinstance(bookmark, dict) for bookmark in bookmarks.values()
        ):
            msg = (
                "The state given to the tap is corrupt: it must be a JSON object whose "
                "'bookmarks' maps each stream to an object. Fix or remove the --state file."
            )
            raise EquipmeConfigError(msg)
        # The previous run's request counters are not this run's.
        state.pop(RUN_STATS_KEY, None)
        super().load_state(state)

    @classmethod
    @override
    def invoke(cls, *args: Any, **kwargs: Any) -> None:
        state_file = kwargs.get("state")
        if state_file is not None:
            text = state_file.read()
            try:
                parsed = json.loads(text)
            except ValueError as exc:
                parsed = exc
            if not isinstance(parsed, dict):
                logging.getLogger(cls.name).error(
                    "The --state file is not a JSON object (%s). Fix or remove it.",
                    parsed if isinstance(parsed, ValueError) else type(parsed).__name__,
                )
                sys.exit(1)
            kwargs["state"] = io.StringIO(text)
        try:
            super().invoke(*args, **kwargs)
        except EquipmeError as exc:
            # A known failure: one clear paragraph and a non-zero exit, no traceback.
            logging.getLogger(cls.name).error("%s", exc)
            sys.exit(1)


if __name__ == "__main__":
    TapEquipme.cli()
