{#-
    Identifier normalisation, defined once and used by every staging model.

    normalise_identifier(col)        trimmed; empty -> null
    normalise_email(col)             trimmed and lower-cased; null unless it has exactly one '@',
                                     a non-empty local part and a domain with an inner dot
    normalise_phone(col, ...)        E.164 or null: see macros/normalise_phone.sql

    Every function that differs between warehouses (regex full match, global replace, the
    back-reference syntax) is its own small dispatched macro below: duckdb__ for DuckDB,
    default__ for Snowflake (and adapters with the same regexp_like / regexp_replace).
    Patterns avoid backslashes so one pattern text means the same in every dialect's literals.
-#}

{%- macro normalise_identifier(col) -%}
    {{ return(adapter.dispatch('normalise_identifier')(col)) }}
{%- endmacro -%}

{%- macro default__normalise_identifier(col) -%}
    nullif({{ trim_whitespace(col) }}, '')
{%- endmacro -%}


{%- macro normalise_email(col) -%}
    {{ return(adapter.dispatch('normalise_email')(col)) }}
{%- endmacro -%}

{%- macro default__normalise_email(col) -%}
    {%- set candidate = "lower(" ~ trim_whitespace(col) ~ ")" -%}
    case
        when {{ regex_full_match(candidate, '[^@[:space:]]+@[^@[:space:]]+[.][^@[:space:]]+') }}
            then {{ candidate }}
    end
{%- endmacro -%}


{#- ---- dispatched primitives ---------------------------------------------------------- -#}

{%- macro trim_whitespace(col) -%}
    {#- SQL trim() only removes spaces; raw data is also padded with tabs, newlines and NBSP. -#}
    {{ return(adapter.dispatch('trim_whitespace')(col)) }}
{%- endmacro -%}

{%- macro _whitespace_chars() -%}
    ' ' || chr(9) || chr(10) || chr(13) || chr(160)
{%- endmacro -%}

{%- macro duckdb__trim_whitespace(col) -%}
    {#- DuckDB's trim(x, characters) is ~10x slower than checking both ends first, and most
        values are not padded: only trim those whose first or last character may be
        whitespace. Comparisons, not IN lists: DuckDB plans those as joins. -#}
    {%- set value = "cast(" ~ col ~ " as varchar)" -%}
    case
        when ascii({{ value }}) <= 32 or ascii({{ value }}) = 160
            or ascii(right({{ value }}, 1)) <= 32 or ascii(right({{ value }}, 1)) = 160
            then trim({{ value }}, {{ _whitespace_chars() }})
        else {{ value }}
    end
{%- endmacro -%}

{%- macro default__trim_whitespace(col) -%}
    trim(cast({{ col }} as varchar), {{ _whitespace_chars() }})
{%- endmacro -%}

{%- macro regex_full_match(expr, pattern) -%}
    {#- true when the whole of expr matches pattern; false (never null) for null expr -#}
    {{ return(adapter.dispatch('regex_full_match')(expr, pattern)) }}
{%- endmacro -%}

{%- macro duckdb__regex_full_match(expr, pattern) -%}
    coalesce(regexp_full_match({{ expr }}, '{{ pattern }}'), false)
{%- endmacro -%}

{%- macro default__regex_full_match(expr, pattern) -%}
    {#- Snowflake's regexp_like is anchored anyway; the explicit anchors serve other adapters -#}
    coalesce(regexp_like({{ expr }}, '^({{ pattern }})$'), false)
{%- endmacro -%}

{%- macro strip_non_digits(expr) -%}
    {{ return(adapter.dispatch('strip_non_digits')(expr)) }}
{%- endmacro -%}

{%- macro duckdb__strip_non_digits(expr) -%}
    regexp_replace({{ expr }}, '[^0-9]', '', 'g')
{%- endmacro -%}

{%- macro default__strip_non_digits(expr) -%}
    {#- Snowflake's regexp_replace replaces every occurrence by default -#}
    regexp_replace({{ expr }}, '[^0-9]', '')
{%- endmacro -%}
