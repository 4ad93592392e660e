{#-
    not_null_columns(model, column_names): every listed column is non-null in every row. One
    query (one scan of the model) for all of them instead of one not_null test per column:
    the same guarantee at a fraction of the cost, which matters for models tested on many
    columns (a view such as customer_profiles is recomputed by every test that reads it).
    Fails with one row per column holding nulls: the column and how many rows.
-#}
{% test not_null_columns(model, column_names) %}

with null_counts as (

    select
        {%- for column in column_names %}
        count(*) - count({{ column }}) as {{ column }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ model }}

)

{% for column in column_names -%}
select '{{ column }}' as column_name, {{ column }} as null_rows
from null_counts
where {{ column }} > 0
{{ 'union all' if not loop.last }}
{% endfor %}

{% endtest %}
