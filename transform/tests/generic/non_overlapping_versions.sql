{#- SCD type 2 history: versions of one key never overlap and at most one is current. -#}
{% test non_overlapping_versions(model, key, valid_from='valid_from', valid_to='valid_to') %}
select *
from (
    select
        {{ key }},
        {{ valid_from }} as version_from,
        {{ valid_to }} as version_to,
        lead({{ valid_from }}) over (partition by {{ key }} order by {{ valid_from }}) as next_from
    from {{ model }}
)
where (version_to is null and next_from is not null)
    or version_to < version_from
    or next_from < version_to
{% endtest %}
