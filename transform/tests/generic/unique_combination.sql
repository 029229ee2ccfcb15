{#- Fails for every combination of the columns that appears more than once (no dbt_utils
    needed: this package has no package dependencies). -#}
{% test unique_combination(model, combination) %}
select {{ combination | join(', ') }}, count(*) as occurrences
from {{ model }}
group by {{ combination | join(', ') }}
having count(*) > 1
{% endtest %}
