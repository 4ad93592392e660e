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


{#- edit distance between two strings (typos: 'robert' and 'robret' are 2 apart) -#}
{%- macro identity_edit_distance(a, b) -%}
    {{ return(adapter.dispatch('identity_edit_distance', 'tessera')(a, b)) }}
{%- endmacro -%}

{%- macro duckdb__identity_edit_distance(a, b) -%}
    levenshtein({{ a }}, {{ b }})
{%- endmacro -%}

{%- macro default__identity_edit_distance(a, b) -%}
    editdistance({{ a }}, {{ b }})
{%- endmacro -%}


{%- macro identity_digits(expr) -%}
    {#- the digits of a string, in order ('john.smith1985' -> '1985') -#}
    {{ return(adapter.dispatch('identity_digits', 'tessera')(expr)) }}
{%- endmacro -%}

{%- macro duckdb__identity_digits(expr) -%}
    regexp_replace({{ expr }}, '[^0-9]', '', 'g')
{%- endmacro -%}

{%- macro default__identity_digits(expr) -%}
    regexp_replace({{ expr }}, '[^0-9]', '')
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
    {#- A CASE expression: why `expr` is not a usable `id_type` identifier, or null if it is.
        A first filter on what a value looks like; the hubs in identity_nodes catch the junk
        no rule here knows, from how it behaves. -#}
    {%- set config = identity_config() -%}
    {%- set blocked = config.blocked_values.get(id_type, []) -%}
    {#- coalesce: never null past the first branch anyway, and DuckDB 2.0.0 fails to bind this
        CASE ('BindBuiltinScalarFunction did not return a BoundFunctionExpression') when its
        statistics say the column is all null, as it is for a source a company does not load -#}
    {%- set value = "lower(coalesce(" ~ expr ~ ", ''))" -%}
    case
        when {{ expr }} is null then null
        when {{ value }} in (
            {%- for v in config.placeholder_values -%}
                {{ identity_literal(v | lower) }}{{ ", " if not loop.last }}
            {%- endfor -%}
        ) then 'placeholder'
        {%- for pattern in config.placeholder_patterns %}
        when {{ identity_regex_full_match(value, pattern) }} then 'placeholder'
        {%- endfor %}
        {%- if id_type not in config.account_id_types %}
        {%- for pattern in config.typed_placeholder_patterns %}
        when {{ identity_regex_full_match(value, pattern) }} then 'placeholder'
        {%- endfor %}
        {#- one character repeated ('aaaaaa', '1111111'): typed to get past a required field -#}
        when length({{ expr }}) >= 4 and replace({{ value }}, left({{ value }}, 1), '') = ''
            then 'placeholder'
        {%- endif %}
        {%- if id_type == 'email' %}
        when split_part({{ value }}, '@', 1) in (
            {%- for v in config.junk_email_local_parts -%}
                {{ identity_literal(v | lower) }}{{ ", " if not loop.last }}
            {%- endfor -%}
        ) then 'placeholder'
        {#- shorter than the provider allows: no such mailbox -#}
        {%- for domain, min_length in config.email_min_local_length.items() %}
        when split_part({{ value }}, '@', 2) = {{ identity_literal(domain) }}
            and length(replace(split_part(split_part({{ value }}, '@', 1), '+', 1), '.', ''))
                < {{ min_length }}
            then 'invalid_format'
        {%- endfor %}
        {#- a local part typed to get past the field: one character repeated ('aaa@',
            'zz@'), or a few digits ('123@', '1234@'; no provider issues such a mailbox) -#}
        when length(split_part({{ value }}, '@', 1)) >= 2
            and replace(split_part({{ value }}, '@', 1), left({{ value }}, 1), '') = ''
            then 'placeholder'
        when length(split_part({{ value }}, '@', 1)) <= 4
            and {{ identity_regex_full_match("split_part(" ~ value ~ ", '@', 1)", '[0-9]+') }}
            then 'placeholder'
        {#- the mailbox named after its own domain: x@x.com, na@na.com, nomail@nomail.com -#}
        when split_part({{ value }}, '@', 1) = split_part(split_part({{ value }}, '@', 2), '.', 1)
            then 'placeholder'
        {%- endif %}
        {%- if id_type == 'phone' %}
        {#- a national number of one repeated digit, or counting up or down -#}
        when {{ identity_regex_full_match(value,
            '[+][1-9][0-9]?[0-9]?(0{6,}|1{6,}|2{6,}|3{6,}|4{6,}|5{6,}|6{6,}|7{6,}|8{6,}|9{6,})') }}
            then 'placeholder'
        {%- for pattern in config.fictional_phone_patterns %}
        when {{ identity_regex_full_match(value, pattern) }} then 'placeholder'
        {%- endfor %}
        {%- endif %}
        {%- if blocked %}
        when {{ value }} in (
            {%- for v in blocked -%}
                {{ identity_literal(v | lower) }}{{ ", " if not loop.last }}
            {%- endfor -%}
        ) then 'blocked_value'
        {%- endif %}
        when not {{ identity_regex_full_match(expr, config.valid_patterns[id_type]) }}
            then 'invalid_format'
    end
{%- endmacro -%}


{%- macro identity_mailbox_key(expr, rules) -%}
    {#- The mailbox an address delivers to, under var identity_mailbox_rules: the domain's
        alias resolved (googlemail.com -> gmail.com), a +tag dropped where the provider
        ignores it, dots dropped where it ignores them. -#}
    {%- set domain -%}
        case split_part({{ expr }}, '@', 2)
            {%- for alias, domain in rules.get('domain_aliases', {}).items() %}
            when '{{ alias }}' then '{{ domain }}'
            {%- endfor %}
            else split_part({{ expr }}, '@', 2)
        end
    {%- endset -%}
    {%- set local -%}
        case
            when ({{ domain }}) in ('{{ rules.get('plus_tags', []) | join("', '") }}')
                then split_part(split_part({{ expr }}, '@', 1), '+', 1)
            else split_part({{ expr }}, '@', 1)
        end
    {%- endset -%}
    case
        when ({{ domain }}) in ('{{ rules.get('ignore_dots', []) | join("', '") }}')
            then replace({{ local }}, '.', '')
        else {{ local }}
    end || '@' || ({{ domain }})
{%- endmacro -%}


{#- ---- the set of sources behind a node or an edge --------------------------------------
    `sources` (the distinct sources, sorted, comma-separated) and `source_count` of a group,
    as string_agg(distinct ...) and count(distinct ...) give them. On DuckDB those two
    distinct aggregates were most of identity_nodes' and identity_edges' time at 1M persons
    (a distinct aggregate hashes every (group, source) pair again): there the aggregate keeps
    one bit per source (bit_or) and the list is spelled out from the bits afterwards, in the
    same order. The sources are identity_sources()' names, the only values `source` takes.

    identity_source_set_agg(expr)   in the GROUP BY select: the aggregate column(s)
    identity_source_set_columns()   in a select over it: sources, source_count
-#}

{%- macro identity_source_names() -%}
    {{ return(identity_sources() | map(attribute='source') | unique | sort | list) }}
{%- endmacro -%}

{%- macro identity_source_set_agg(expr) -%}
    {{ return(adapter.dispatch('identity_source_set_agg', 'tessera')(expr)) }}
{%- endmacro -%}

{%- macro default__identity_source_set_agg(expr) -%}
    {{ identity_string_agg(expr) }} as sources,
    count(distinct {{ expr }}) as source_count
{%- endmacro -%}

{%- macro duckdb__identity_source_set_agg(expr) -%}
    bit_or(case {{ expr }}
        {%- for name in identity_source_names() %}
        when {{ identity_literal(name) }} then cast({{ 2 ** loop.index0 }} as bigint)
        {%- endfor %}
    end) as source_bits
{%- endmacro -%}

{%- macro identity_source_set_columns() -%}
    {{ return(adapter.dispatch('identity_source_set_columns', 'tessera')()) }}
{%- endmacro -%}

{%- macro default__identity_source_set_columns() -%}
    sources,
    source_count
{%- endmacro -%}

{%- macro duckdb__identity_source_set_columns() -%}
    case when source_bits is not null then concat_ws(','
        {%- for name in identity_source_names() %},
        case when source_bits & {{ 2 ** loop.index0 }} <> 0 then {{ identity_literal(name) }} end
        {%- endfor %}
    ) end as sources,
    cast(coalesce(bit_count(source_bits), 0) as bigint) as source_count
{%- endmacro -%}
