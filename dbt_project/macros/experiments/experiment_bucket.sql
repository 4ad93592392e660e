{#-
    The assignment rule: bucket = (first 7 hex digits of md5(salt || ':' || person_id)) mod 10000,
    an integer in [0, 10000). The same person and salt give the same bucket on every run and
    on every warehouse (md5 is standard; the hex digits are read with position(), not with a
    warehouse's own hash function), so an arm survives refreshes and a move to Snowflake.
-#}
{%- macro experiment_bucket(salt_expr, person_expr) -%}
    {{ return(adapter.dispatch('experiment_bucket', 'tessera')(salt_expr, person_expr)) }}
{%- endmacro -%}

{%- macro default__experiment_bucket(salt_expr, person_expr) -%}
    {%- set digest = 'md5(' ~ salt_expr ~ " || ':' || cast(" ~ person_expr ~ ' as varchar))' -%}
    mod(
    {%- for i in range(7) %}
        (position(substr({{ digest }}, {{ i + 1 }}, 1) in '0123456789abcdef') - 1) * {{ 16 ** (6 - i) }}{{ ' +' if not loop.last }}
    {%- endfor %}
    , 10000)
{%- endmacro -%}
