"""Run one function over many keys with bounded concurrency and bounded memory.

Results come back to the calling thread in key order, so the caller (the stream) emits
records from the main thread. At most `concurrency` calls run at once and at most
`2 * concurrency` results wait in memory, however many keys there are.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

K = TypeVar("K")
R = TypeVar("R")


def map_bounded(
    function: Callable[[K], R], keys: Iterable[K], concurrency: int
) -> Iterator[tuple[K, R]]:
    """Yield `(key, function(key))` for every key, in key order.

    Args:
        function: The (thread-safe) function, e.g. one HTTP request.
        keys: The keys, consumed lazily.
        concurrency: Calls in flight at most; 1 runs them one by one in this thread.

    Yields:
        `(key, result)` pairs in the order of `keys`.
    """
    if concurrency <= 1:
        for key in keys:
            yield key, function(key)
        return
    window = 2 * concurrency
    pending: deque[tuple[K, Future[R]]] = deque()
    executor = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="equipme-fetch")
    try:
        for key in keys:
            pending.append((key, executor.submit(function, key)))
            if len(pending) >= window:
                done_key, future = pending.popleft()
                yield done_key, future.result()
        while pending:
            done_key, future = pending.popleft()
            yield done_key, future.result()
    finally:
        # On an error (or an abandoned generator) drop queued calls and wait for the few
        # running ones, so no thread outlives the stream.
        executor.shutdown(wait=True, cancel_futures=True)
