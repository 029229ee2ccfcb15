-- One row per live metadata item of a live customer, keyed as analysts join it:
-- (customer_id, metadata_key), with the surrogate customer_metadata_id = '<customer_id>/<key>'.
-- A deleted customer's items are left out even while the loader still holds them live (change
-- capture stops reading the metadata of a customer the listing no longer shows).
select
    m.customer_id::integer || '/' || m.key as customer_metadata_id,
    m.customer_id::integer as customer_id,
    m.key::varchar as metadata_key,
    m.value::varchar as metadata_value,
    m.scope::varchar as metadata_scope,
    m._first_seen_at as first_seen_at,
    m._changed_at as changed_at,
    m._loaded_at as loaded_at
from {{ source('equipme', 'customer_metadata') }} as m
where m._deleted_at is null
    and m.customer_id in (
        select c.id from {{ source('equipme', 'customers') }} as c where c._deleted_at is null
    )
