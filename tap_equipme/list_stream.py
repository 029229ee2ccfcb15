"""`EquipmeListStream`: a paginated list read drift-proof, its bookmark and change capture."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, ClassVar, cast
from urllib.parse import urlsplit

from singer_sdk.exceptions import AbortedSyncFailedException, AbortedSyncPausedException
from typing_extensions import override

from tap_equipme.client import (
    BOOKMARK_FORMAT,
    BOOKMARK_KEY,
    RUN_STATS_KEY,
    EquipmeStream,
)
from tap_equipme.config_checks import parse_start_date
from tap_equipme.errors import EquipmeError
from tap_equipme.http.api_client import list_page_problem
from tap_equipme.http.server_clock import future_bookmark
from tap_equipme.listing.listing_check import STATE_KEY as LISTING_CHECK_KEY
from tap_equipme.listing.listing_check import ListingCheck
from tap_equipme.listing.pagination import DriftProofPaginator, PageRequest
from tap_equipme.record_checks import check_items, listing_item_problem

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context


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
                stored = parse_start_date(str(bookmark))
                if not future_bookmark(stored, self.name, self.logger):
                    return stored.strftime(BOOKMARK_FORMAT)
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
        """The previous run's `ListingCheck`, if it can certify this run's listing.

        That of the last completed run (change capture), else that of the unfinished run this
        one resumes (`resume_listing_check`): a kill then costs one listing pass, not two.
        """
        if self._filtered():
            return None
        scope = self.starting_created_after() or ""
        if self.sync_mode == "change_capture":
            check = ListingCheck.from_state(self.stream_state.get(LISTING_CHECK_KEY))
            if check and check.cutoff == self.bookmark_created_after() and check.scope == scope:
                return check
        resumed = self.resume_listing_check()
        return resumed if resumed is not None and resumed.scope == scope else None

    def resume_listing_check(self) -> ListingCheck | None:
        """The `ListingCheck` of an unfinished run that this run resumes (None: none)."""
        return None

    def _first_pass_check(self, check: ListingCheck) -> Callable[[set[int]], bool]:
        def certify_first_pass(first_pass: set[int]) -> bool:
            created, one_page = self._list_created_after(check.cutoff)
            if check.cutoff == self.bookmark_created_after():
                # The customers created since the bookmark (`_new_ids`), read already; not
                # so for the check of a resumed run, whose cutoff is that run's own.
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
                self._check_items(items, request)
                emit = paginator.accept(request, [item["id"] for item in items], page["total"])
                href = self._next_href(page, href)
                request = paginator.next_request()
                future = pager.submit(fetch, href, request) if request else None
                for index in emit:
                    yield items[index]
        finally:
            pager.shutdown(wait=True, cancel_futures=True)

    def _check_items(self, items: list[Any], request: PageRequest) -> None:
        """Stop with one clear error at the first item the spec does not allow."""
        check_items(
            items,
            listing_item_problem,
            f"Stream '{self.name}': the list page at offset {request.offset} (limit "
            f"{request.limit}),",
            "the tap stopped before emitting that page, the stored bookmark stays.",
        )

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

        The server's time is bounded by the local clock (`ServerClock`), and the bookmark
        never moves back before the stored one.

        Returns:
            An ISO-8601 timestamp (`BOOKMARK_FORMAT`).
        """
        started = self.api.first_response_date or datetime.now(timezone.utc)
        lookback = timedelta(minutes=float(self.config.get("lookback", 5)))
        bookmark = (started - lookback).astimezone(timezone.utc).strftime(BOOKMARK_FORMAT)
        # A server clock running behind (see `server_clock`) must not move the bookmark back:
        # everything created after the stored one was just listed.
        previous = self.bookmark_created_after() if not self.full_refresh else None
        stored = self.stream_state.get("replication_key_value")
        return max(bookmark, previous) if previous and stored else bookmark

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
