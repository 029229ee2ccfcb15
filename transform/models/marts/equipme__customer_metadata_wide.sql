-- One row per live customer, one column per metadata key (the keys present when the model is
-- built, as the loader's customer_metadata_wide view does), for analysts who join metadata as
-- attributes. Keys become lower-case identifiers; the long form is stg_equipme__customer_metadata.
{%- set keys = [] -%}
{%- if execute -%}
    {%- set found = run_query("select distinct metadata_key from " ~ ref('stg_equipme__customer_metadata') ~ " order by 1") -%}
    {%- set keys = found.columns[0].values() -%}
{%- endif %}
select
    c.customer_id
    {%- for key in keys %},
    max(m.metadata_value) filter (where m.metadata_key = '{{ key | replace("'", "''") }}') as {{ adapter.quote(key | lower) }}
    {%- endfor %}
from {{ ref('stg_equipme__customers') }} as c
left join {{ ref('stg_equipme__customer_metadata') }} as m on m.customer_id = c.customer_id
group by c.customer_id
