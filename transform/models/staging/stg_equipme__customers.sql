-- One row per live customer (soft-deleted rows left out), typed and flattened.
select
    {{ equipme_customer_columns('c') }},
    c._first_seen_at as first_seen_at,
    c._changed_at as changed_at,
    c._loaded_at as loaded_at
from {{ source('equipme', 'customers') }} as c
where c._deleted_at is null
