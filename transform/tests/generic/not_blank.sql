{#- Fails for every row whose column is NULL or only whitespace (the DAG's "customers without a
    name" check, as a dbt test). -#}
{% test not_blank(model, column_name) %}
select * from {{ model }} where {{ column_name }} is null or trim({{ column_name }}) = ''
{% endtest %}
