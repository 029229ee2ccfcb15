{#- The state of every customer at a point in time, from equipme__customers_as_of:
        select * from {{ equipme.equipme_customers_on("timestamp '2026-06-30 00:00:00+00'") }}
    `at` is SQL (a literal, a column, current_timestamp). -#}
{% macro equipme_customers_on(at) -%}
    (
        select * exclude (valid_from, valid_to, is_current, version_number, content_hash, customer_version_id)
        from {{ ref('equipme__customers_as_of') }}
        where valid_from <= {{ at }} and (valid_to is null or valid_to > {{ at }})
    )
{%- endmacro %}
