"""`EquipmeStream`: the base stream (API access, lean record path) and the list-stream logic."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, cast
from urllib.parse import urlsplit

from singer_sdk import Stream
from singer_sdk.exceptions import AbortedSyncFailedException, AbortedSyncPausedException
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.singerlib import RecordMessage

from tap_equipme.config_checks import parse_start_date
from tap_equipme.errors import EquipmeError
from tap_equipme.http.api_client import ApiClient, list_page_problem
from tap_equipme.listing.listing_check import STATE_KEY as LISTING_CHECK_KEY
from tap_equipme.listing.listing_check import ListingCheck
from tap_equipme.listing.pagination import DriftProofPaginator, PageRequest
from tap_equipme.schema_widening import SchemaEvolver

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if TYPE_CHECKING:
    from collections.abc import Mapping

    from singer_sdk.helpers.types import Context


class StreamOwner(Protocol):
    """What a stream needs of its tap (a protocol, so the streams never import the tap)."""

    api_client: ApiClient
    streams: Mapping[str, Stream]


BOOKMARK_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
BOOKMARK_KEY = "createdAfter"
SYNC_MODES = ("change_capture", "incremental")
RUN_STATS_KEY = "run_stats"
"""Top-level key of the final STATE carrying the run's request counters (`RequestStats`)."""


class EquipmeStream(Stream):
    """Base stream: shares the tap's API client; records go out as the API sent them.

    Fields beyond the spec follow the `unknown_fields` setting (see `schema_evolution`).
    """

    # Records are emitted as the API sends them and the schema comes from the same spec, so a
    # per-record type conformance walk would only cost time.
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE

    @override
    def _write_activate_version_message(self, full_table_version: int) -> None:
        # singer-sdk versions a full refresh by the second the tap started, so two refreshes
        # within one second (a quick retry) would share a version and the second could not
        # soft-delete what the first still had. The tap's start in milliseconds keeps them
        # apart; the closing message (close_version) repeats the same value.
        if full_table_version == self._initialized_at // 1000:
            full_table_version = self._stream_version = self.run_version()
        super()._write_activate_version_message(full_table_version)

    def run_version(self) -> int:
        """This run's table version: the tap's start in milliseconds (a resumed run: its own).

        Returns:
            The version of a full refresh's ACTIVATE_VERSION and records.
        """
        return self._initialized_at

    def close_version(self) -> None:
        """In a full refresh, repeat ACTIVATE_VERSION once every record of the stream is out.

        singer-sdk sends it only before the first record; the Singer convention repeats it at
        the end, so a target can tell a complete version from one cut short by a failure.
        """
        if self.selected and self.emit_activate_version_messages and self._stream_version:
            self._write_activate_version_message(self._stream_version)

    @property
    def api(self) -> ApiClient:
        """The tap's pooled API client."""
        return self.owner.api_client

    @property
    def owner(self) -> StreamOwner:
        """The tap this stream belongs to."""
        return cast("StreamOwner", self._tap)

    @cached_property
    def _all_properties_selected(self) -> bool:
        mask = self.mask
        return all(mask.get(crumb, True) for crumb in mask)

    @cached_property
    def _evolver(self) -> SchemaEvolver:
        # Works on a copy: the class's spec-derived schema (and so --discover) never changes.
        return SchemaEvolver(self.schema)

    @cached_property
    def _reported_paths(self) -> set[str]:
        return set()

    @property
    def unknown_fields_policy(self) -> str:
        """The `unknown_fields` setting: `keep` (default), `drop` or `fail`."""
        return str(self.config.get("unknown_fields") or "keep")

    def _handle_unknown_fields(self, record: dict) -> dict:
        """Apply the `unknown_fields` policy to a record that does not fit the schema.

        Args:
            record: The record as the API sent it.

        Returns:
            The record to emit (without the fields that `drop` removes or that are held back).

        Raises:
            EquipmeError: With `fail`, naming the stream and the fields.
        """
        evolver = self._evolver
        policy = self.unknown_fields_policy
        if policy == "fail":
            paths = evolver.unknown_paths(record)
            msg = (
                f"Stream '{self.name}': the API sent field(s) {', '.join(map(repr, paths))} "
                "that the spec does not declare, and `unknown_fields` is 'fail': stopped "
                "before emitting that record. Set `unknown_fields` to 'keep' to add such fields "
                "to the schema, or to 'drop' to leave them out."
            )
            raise EquipmeError(msg)
        if policy == "keep":
            changes = evolver.widen(record)
            if changes:
                self._adopt_schema(evolver.schema)
                for change in changes:
                    self.logger.info(
                        "%s: field '%s' is not in the spec: %s (unknown_fields=keep)",
                        self.name,
                        change.path,
                        f"added as {change.new_type}"
                        if change.kind == "added"
                        else f"widened from {change.old_type} to {change.new_type}",
                    )
        record, removed = evolver.strip_unknown(record)
        new = [path for path in removed if path not in self._reported_paths]
        if new:
            self._reported_paths.update(new)
            if policy == "drop":
                self.logger.warning(
                    "%s records carry fields the spec does not declare, dropped "
                    "(unknown_fields=drop): %s",
                    self.name,
                    ", ".join(new),
                )
            else:
                self.logger.info(
                    "%s: field(s) %s not in the spec and so far only null or empty: left out "
                    "until they carry a value",
                    self.name,
                    ", ".join(f"'{path}'" for path in new),
                )
        return record

    def _adopt_schema(self, schema: dict) -> None:
        """Make a widened schema the stream's own and send it before the next record."""
        self._schema = schema
        # The stream maps (aliases, flattening, property maps) derive their schemas from it.
        self._tap.mapper.register_raw_stream_schema(self.name, schema, self.primary_keys)
        self._stream_maps = None
        self._write_schema_message()

    @override
    def _generate_record_messages(self, record: dict) -> Generator[RecordMessage, None, None]:
        # A record with fields beyond the schema (the API grew) takes the slow path once;
        # the check itself is a few set comparisons.
        if not self._evolver.fits(record):
            record = self._handle_unknown_fields(record)
        # singer-sdk walks every record against the selection mask (most of the tap's CPU
        # time); when every property is selected there is nothing to remove, so skip it.
        if not self._all_properties_selected:
            yield from super()._generate_record_messages(record)
            return
        version = self._stream_version
        for stream_map in self.stream_maps:
            mapped = stream_map.transform(record)
            if mapped is not None:
                yield RecordMessage(
                    stream=stream_map.stream_alias,
                    record=mapped,
                    version=version,
                    time_extracted=datetime.now(timezone.utc),
                )


class EquipmeListStream(EquipmeStream):
    """A paginated list, read drift-proof, incremental on `createdAfter` (see README).

    Records carry no creation time, so the bookmark is not a record field: it is the time the
    sync started (the server's `Date` of the first response) minus `lookback`, written to
    `state["bookmarks"][name]["replication_key_value"]` only when the stream (including its
    child streams) completed.
    """

    path: ClassVar[str]
    #: Query parameters from settings: setting name -> API parameter name.
    filter_params: ClassVar[dict[str, str]] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Initialize the stream (see `singer_sdk.Stream`)."""
        super().__init__(*args, **kwargs)
        self.emitted_ids: Iterable[int] = ()
        self.new_ids: set[int] | None = None
        """Change capture: listed ids created since the bookmark (None: every id is new)."""
        self.drift_report: dict[str, int] = {}
        self._created_since_bookmark: set[int] | None = None
        self._listing_check: ListingCheck | None = None
        """What this run leaves for the next to certify its listing in one pass."""

    @property
    def full_refresh(self) -> bool:
        """Whether this run ignores the bookmark and re-reads everything."""
        return bool(self.config.get("full_refresh"))

    @property
    def sync_mode(self) -> str:
        """`full_refresh`, `change_capture` (the default) or `incremental`."""
        if self.full_refresh:
            return "full_refresh"
        return str(self.config.get("sync_mode") or "change_capture")

    @property
    @override
    def emit_activate_version_messages(self) -> bool:
        # Change capture re-lists everything too: a complete listing is a version.
        return self.sync_mode != "incremental"

    def starting_created_after(self) -> str | None:
        """The `createdAfter` filter of this run's listing.

        Incremental: the bookmark, else `start_date`. Change capture: `start_date` (a fixed
        lower bound of what the warehouse holds). Full refresh: none.

        Returns:
            An ISO-8601 timestamp or None.
        """
        if self.sync_mode == "change_capture":
            start_date = self.config.get("start_date")
            return (
                parse_start_date(str(start_date)).strftime(BOOKMARK_FORMAT) if start_date else None
            )
        return self.bookmark_created_after()

    def bookmark_created_after(self) -> str | None:
        """The `createdAfter` of "new since the last run": bookmark, else `start_date`.

        Returns:
            An ISO-8601 timestamp, or None (full refresh, or a first run without start_date).
        """
        if self.full_refresh:
            return None
        bookmark = self.stream_state.get("replication_key_value")
        if bookmark:
            try:
                return parse_start_date(str(bookmark)).strftime(BOOKMARK_FORMAT)
            except ValueError:
                msg = (
                    f"The state's bookmark bookmarks.{self.name}.replication_key_value is not "
                    f"an ISO-8601 date-time ({str(bookmark)[:40]!r}): fix or remove the state, "
                    "or run once with `full_refresh`."
                )
                raise EquipmeError(msg) from None
        start_date = self.config.get("start_date")
        if not start_date:
            return None
        return parse_start_date(str(start_date)).strftime(BOOKMARK_FORMAT)

    def base_params(self) -> dict[str, Any]:
        """Query parameters common to every page (filters, `createdAfter`).

        Returns:
            The parameters (lists become repeated parameters).
        """
        params: dict[str, Any] = {}
        for setting, name in self.filter_params.items():
            value = self.config.get(setting)
            if value is None or value == []:
                continue
            params[name] = ("true" if value else "false") if isinstance(value, bool) else value
        created_after = self.starting_created_after()
        if created_after:
            params[BOOKMARK_KEY] = created_after
        return params

    @override
    def get_records(self, context: Context | None) -> Iterator[dict]:
        try:
            yield from self._list_then_children()
        finally:
            # One line a run, also after a failure: what the run asked of the API.
            self.logger.info("Requests this run: %s", json.dumps(self.api.stats.as_dict()))

    def _list_then_children(self) -> Iterator[dict]:
        # A listing that may delete (change capture, full refresh) must be certified complete.
        certify = self.emit_activate_version_messages
        self.bookmark_created_after()  # a corrupt bookmark fails here, before any request
        check = self._usable_listing_check()
        paginator = DriftProofPaginator(
            self.page_size,
            certify=certify,
            first_pass_check=self._first_pass_check(check) if check else None,
        )
        params = self.base_params()
        self.logger.info(
            "Reading %s %s (%s)",
            self.name,
            f"created after {params[BOOKMARK_KEY]}" if BOOKMARK_KEY in params else "(all)",
            self.sync_mode.replace("_", " "),
        )
        yield from self._read_listing(paginator, params)
        self.emitted_ids = paginator.emitted_ids
        self.drift_report = {
            "drift_detected": int(paginator.drift_detected),
            "step_backs": paginator.step_backs,
            "rescans": paginator.rescans,
            "passes": paginator.passes,
        }
        if paginator.drift_detected:
            self.logger.warning(
                "The %s listing changed while it was read (step backs: %d, rescans from the "
                "start: %d); a verification pass read it again and emitted only ids not seen.",
                self.name,
                paginator.step_backs,
                paginator.rescans,
            )
        self._listing_check = None
        if certify and not paginator.certified:
            self.logger.warning(
                "The %s listing kept changing over %d passes and could not be certified "
                "complete: this run marks nothing deleted (the next run will).",
                self.name,
                paginator.passes,
            )
        else:
            self.close_version()
            if certify:
                self._listing_check = self._record_listing_check(paginator.emitted_ids)
        self.new_ids = self._new_ids()
        self.sync_children_once()
        self.advance_bookmark()

    @property
    def page_size(self) -> int:
        """The `page_size` setting (items per list request)."""
        return int(self.config.get("page_size", 1000))

    def _filtered(self) -> bool:
        return any(self.config.get(s) not in (None, []) for s in self.filter_params)

    def _usable_listing_check(self) -> ListingCheck | None:
        """The previous run's `ListingCheck`, if it can certify this run's listing."""
        if self.sync_mode != "change_capture" or self._filtered():
            return None
        check = ListingCheck.from_state(self.stream_state.get(LISTING_CHECK_KEY))
        scope = self.starting_created_after() or ""
        if check is None or check.cutoff != self.bookmark_created_after() or check.scope != scope:
            return None
        return check

    def _first_pass_check(self, check: ListingCheck) -> Callable[[set[int]], bool]:
        def certify_first_pass(first_pass: set[int]) -> bool:
            created, one_page = self._list_created_after(check.cutoff)
            self._created_since_bookmark = created
            certified = one_page and check.proves_complete(first_pass, created)
            self.logger.info(
                "The %s listing is %s (%d customers created since %s)",
                self.name,
                "complete after one pass: the previous run's digest matches"
                if certified
                else "read a second time: customers were deleted since the previous run, "
                "or the listing changed while it was read",
                len(created),
                check.cutoff,
            )
            return certified

        return certify_first_pass

    def _record_listing_check(self, listed: Iterable[int]) -> ListingCheck | None:
        """After a certified listing: what lets the next run certify its own in one pass."""
        if self._filtered():
            return None
        cutoff = self.next_bookmark()
        created, _ = self._list_created_after(cutoff)
        return ListingCheck.record(listed, created, cutoff, self.starting_created_after() or "")

    def _list_created_after(self, created_after: str) -> tuple[set[int], bool]:
        """The ids listed as created after `created_after`, and whether one page held them."""
        paginator = DriftProofPaginator(self.page_size)
        params = {**self.base_params(), BOOKMARK_KEY: created_after}
        ids = {item["id"] for item in self._read_listing(paginator, params)}
        return ids, paginator.requests == 1 and not paginator.drift_detected

    def _new_ids(self) -> set[int] | None:
        """In change capture, the listed ids created since the bookmark (None: all are new).

        One cheap extra listing (`createdAfter` = bookmark, ids only; already read when the
        listing was certified in one pass): the customers whose metadata is read at once, as
        an incremental run would.
        """
        if self.sync_mode != "change_capture":
            return None
        created_after = self.bookmark_created_after()
        if created_after is None or created_after == self.starting_created_after():
            return None
        listed = set(self.emitted_ids)
        if self._created_since_bookmark is not None:
            return self._created_since_bookmark & listed
        return self._list_created_after(created_after)[0] & listed

    def _read_listing(
        self, paginator: DriftProofPaginator, params: dict[str, Any]
    ) -> Iterator[dict]:
        """Yield the listing's items the paginator picks, one page fetched ahead."""
        href = self.path

        def fetch(href: str, request: PageRequest) -> dict[str, Any]:
            page = self.api.get_json(
                href,
                {**params, "offset": request.offset, "limit": request.limit},
                shape_problem=list_page_problem,
                kind="list",
            )
            return cast("dict[str, Any]", page)

        # The next page is fetched while this one's records are emitted: the paginator knows
        # the next request as soon as it has seen a page's ids.
        pager = ThreadPoolExecutor(max_workers=1, thread_name_prefix="equipme-page")
        try:
            request = paginator.next_request()
            future = pager.submit(fetch, href, request) if request else None
            while future is not None and request is not None:
                page = future.result()
                items = page["items"]
                emit = paginator.accept(request, [item["id"] for item in items], page["total"])
                href = self._next_href(page, href)
                request = paginator.next_request()
                future = pager.submit(fetch, href, request) if request else None
                for index in emit:
                    yield items[index]
        finally:
            pager.shutdown(wait=True, cancel_futures=True)

    def _next_href(self, page: dict[str, Any], current: str) -> str:
        """The list URL (without query) of the page's `next` link, else the current one.

        Args:
            page: The list page.
            current: The href used so far.

        Returns:
            An absolute URL or the current href; offset and limit are set per request.
        """
        link = page.get("next")
        if not isinstance(link, dict) or not isinstance(link.get("href"), str):
            return current
        parts = urlsplit(self.api.url_for(link["href"]))
        return f"{parts.scheme}://{parts.netloc}{parts.path}"

    @override
    def generate_child_contexts(
        self, record: dict, context: Context | None
    ) -> Iterable[Context | None]:
        # Children are synced once per run (`sync_children_once`), not once per record.
        return ()

    def sync_children_once(self) -> None:
        """Sync the child streams once, over every id this run emitted."""
        for child in self.child_streams:
            if child.selected or child.has_selected_descendents:
                try:
                    child.sync(context={"parent": self.name})
                except (AbortedSyncFailedException, AbortedSyncPausedException):
                    # The SDK's record limit (its test mode) cut the child short; as the SDK does.
                    continue

    def extra_state(self, started: datetime) -> dict[str, Any]:
        """More of this stream's state to write with the bookmark (subclasses).

        Args:
            started: When this run started (server time).

        Returns:
            Keys to merge into the stream's state.
        """
        del started
        return {}

    def next_bookmark(self) -> str:
        """The bookmark this run writes: sync start (server time) minus `lookback`.

        Returns:
            An ISO-8601 timestamp (`BOOKMARK_FORMAT`).
        """
        started = self.api.first_response_date or datetime.now(timezone.utc)
        lookback = timedelta(minutes=float(self.config.get("lookback", 5)))
        return (started - lookback).astimezone(timezone.utc).strftime(BOOKMARK_FORMAT)

    def advance_bookmark(self) -> None:
        """Write the new bookmark (`next_bookmark`) and what the next run needs with it."""
        started = self.api.first_response_date or datetime.now(timezone.utc)
        bookmark = self.next_bookmark()
        state = self.stream_state
        state["replication_key"] = BOOKMARK_KEY
        state["replication_key_value"] = bookmark
        state.update(self.extra_state(started))
        if self._listing_check is not None:
            state[LISTING_CHECK_KEY] = self._listing_check.to_state()
        else:
            state.pop(LISTING_CHECK_KEY, None)
        # Read by the loader into `_equipme_loads`; the tap drops it when it loads a state.
        cast("dict[str, Any]", self.tap_state)[RUN_STATS_KEY] = self.api.stats.as_state()
        self.state_manager.is_flushed = False
        self.logger.info("New %s bookmark: %s=%s", self.name, BOOKMARK_KEY, bookmark)
