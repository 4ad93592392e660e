{#- Small cross-warehouse helpers for the profile and feature models (adapter.dispatch). -#}

{#- value of `value_expr` on the row with the largest `order_expr` (aggregate). -#}
{%- macro arg_max(value_expr, order_expr) -%}
    {{ return(adapter.dispatch('arg_max', 'tessera')(value_expr, order_expr)) }}
{%- endmacro -%}

{%- macro duckdb__arg_max(value_expr, order_expr) -%}
    arg_max({{ value_expr }}, {{ order_expr }})
{%- endmacro -%}

{%- macro default__arg_max(value_expr, order_expr) -%}
    max_by({{ value_expr }}, {{ order_expr }})
{%- endmacro -%}

{#- An order-independent fingerprint of a set of strings (aggregate), as text: the sum of
    64-bit hashes. Only compared with itself on the same warehouse. -#}
{%- macro set_fingerprint(expr) -%}
    {{ return(adapter.dispatch('set_fingerprint', 'tessera')(expr)) }}
{%- endmacro -%}

{%- macro duckdb__set_fingerprint(expr) -%}
    cast(sum(cast(hash({{ expr }}) as hugeint)) as varchar)
{%- endmacro -%}

{%- macro default__set_fingerprint(expr) -%}
    cast(sum(hash({{ expr }})) as varchar)
{%- endmacro -%}

{#- value of `value_expr` on the row with the smallest `order_expr` (aggregate). -#}
{%- macro arg_min(value_expr, order_expr) -%}
    {{ return(adapter.dispatch('arg_min', 'tessera')(value_expr, order_expr)) }}
{%- endmacro -%}

{%- macro duckdb__arg_min(value_expr, order_expr) -%}
    arg_min({{ value_expr }}, {{ order_expr }})
{%- endmacro -%}

{%- macro default__arg_min(value_expr, order_expr) -%}
    min_by({{ value_expr }}, {{ order_expr }})
{%- endmacro -%}

{#- `name as {{ materialized_cte() }} (...)`: compute a CTE used several times once. DuckDB
    inlines CTEs by default (each reference recomputes it); Snowflake materializes on its own
    and has no such keyword. -#}
{%- macro materialized_cte() -%}
    {{ return(adapter.dispatch('materialized_cte', 'tessera')()) }}
{%- endmacro -%}

{%- macro duckdb__materialized_cte() -%}
    materialized
{%- endmacro -%}

{%- macro default__materialized_cte() -%}
{%- endmacro -%}
