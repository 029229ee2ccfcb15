-- Every version of every customer from the loader's SCD type 2 history (customers_history):
-- the customer's state held from valid_from until valid_to (NULL: still current). A customer's
-- state on any date d: valid_from <= d and (valid_to is null or valid_to > d); the macro
-- equipme_customers_on(d) writes that filter. Built from the loader's history, not from a dbt
-- snapshot (snapshots fail on DuckLake, dbt-duckdb issue 804, and the loader already keeps it).
select
    h.id::integer || '@' || strftime(h._valid_from, '%Y-%m-%dT%H:%M:%S.%fZ') as customer_version_id,
    {{ equipme_customer_columns('h') }},
    h._valid_from as valid_from,
    h._valid_to as valid_to,
    h._valid_to is null as is_current,
    row_number() over (partition by h.id order by h._valid_from) as version_number,
    h._content_hash as content_hash
from {{ source('equipme', 'customers_history') }} as h
