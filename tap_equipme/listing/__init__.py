"""The tap's listing side: which customers a run reads, and proof that it read them all.

Pure logic, no I/O:

- `pagination`: drift-proof offset/limit paging over a list sorted by name;
- `listing_check`: certify a change-capture listing in one pass from the previous run's digest;
- `metadata_window`: the rolling window of customers whose metadata a run re-reads.
"""
