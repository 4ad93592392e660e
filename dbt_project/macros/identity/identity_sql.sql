{#- Small SQL builders shared by the identity models; dialect differences are dispatched. -#}

{%- macro identity_regex_full_match(expr, pattern) -%}
    {{ return(adapter.dispatch('identity_regex_full_match', 'tessera')(expr, pattern)) }}
{%- endmacro -%}

{%- macro duckdb__identity_regex_full_match(expr, pattern) -%}
    coalesce(regexp_full_match({{ expr }}, {{ identity_literal(pattern) }}), false)
{%- endmacro -%}

{%- macro default__identity_regex_full_match(expr, pattern) -%}
    {#- Snowflake's regexp_like matches the whole string -#}
    coalesce(regexp_like({{ expr }}, {{ identity_literal(pattern) }}), false)
{%- endmacro -%}


{%- macro identity_string_agg(expr, separator=',') -%}
    {{ return(adapter.dispatch('identity_string_agg', 'tessera')(expr, separator)) }}
{%- endmacro -%}

{%- macro duckdb__identity_string_agg(expr, separator) -%}
    string_agg(distinct {{ expr }}, {{ identity_literal(separator) }} order by {{ expr }})
{%- endmacro -%}

{%- macro default__identity_string_agg(expr, separator) -%}
    listagg(distinct {{ expr }}, {{ identity_literal(separator) }})
        within group (order by {{ expr }})
{%- endmacro -%}


{%- macro identity_literal(value) -%}
    '{{ value | string | replace("'", "''") }}'
{%- endmacro -%}

{%- macro identity_run_stamp() -%}
    cast('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as timestamp)
{%- endmacro -%}

{%- macro identity_node_key(id_type, expr) -%}
    '{{ id_type }}:' || {{ expr }}
{%- endmacro -%}

{%- macro identity_person_id(seed_expr) -%}
    {#- person ids are 'p_' and 20 hex digits of md5 of a seed (the component's oldest node) -#}
    'p_' || substr(md5({{ seed_expr }}), 1, 20)
{%- endmacro -%}


{%- macro identity_invalid_reason(id_type, expr) -%}
    {#- A CASE expression: why `expr` is not a usable `id_type` identifier, or null if it is. -#}
    {%- set config = identity_config() -%}
    {%- set blocked = config.blocked_values.get(id_type, []) -%}
    case
        when {{ expr }} is null then null
        when lower({{ expr }}) in (
            {%- for value in config.placeholder_values -%}
                {{ identity_literal(value | lower) }}{{ ", " if not loop.last }}
            {%- endfor -%}
        ) then 'placeholder'
        {%- for pattern in config.placeholder_patterns %}
        when {{ identity_regex_full_match('lower(' ~ expr ~ ')', pattern) }} then 'placeholder'
        {%- endfor %}
        {%- if blocked %}
        when lower({{ expr }}) in (
            {%- for value in blocked -%}
                {{ identity_literal(value | lower) }}{{ ", " if not loop.last }}
            {%- endfor -%}
        ) then 'blocked_value'
        {%- endif %}
        when not {{ identity_regex_full_match(expr, config.valid_patterns[id_type]) }}
            then 'invalid_format'
    end
{%- endmacro -%}
