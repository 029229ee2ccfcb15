"""The tap's HTTP side: how it talks to the Equipme API.

- `api_client`: the one pooled session, the request path (rate, retries, error mapping);
- `retry`: how long to wait before a retry, two budgets (failures and 429s);
- `rate_limiter`: the request-rate controller that finds an unpublished limit;
- `request_stats` / `request_progress`: what a run asked of the API, and its progress line;
- `origin`: the session that carries the key and never lets it leave the configured origin;
- `body`: reads a body within `max_response_bytes` and `request_deadline`;
- `server_clock`: the run's start by the server's `Date`, bounded by the local clock;
- `redaction`: masks the key in messages and log records;
- `fanout`: one function over many keys with bounded concurrency and memory (metadata reads).

It knows requests and the stdlib, never singer-sdk's streams, never the warehouse.
"""
