{#-
    Identifier normalisation, defined once and used by every staging model.

    normalise_identifier(col)        trimmed; empty -> null
    normalise_email(col)             trimmed and lower-cased; null unless it has exactly one '@',
                                     a non-empty local part and a domain with an inner dot
    normalise_phone(col, default_country_code=var('default_phone_country_code'),
                    country_col=none)
                                     E.164 ('+' then 8-15 digits, no leading 0) or null

    Phone rules, in order (after trimming whitespace):
      1. Anything but digits, spaces and + ( ) - . / (letters, 'ext', '#', '*') -> null.
      2. '+' or '00' prefix: international. A trunk 0 after the calling code of a country that
         uses one is dropped, written '(0)' or not: '+44 (0)20 7946 0958' and '+44 020 7946 0958'
         both give +442079460958.
      3. A national number with a leading trunk 0 ('020 7946 0958') is resolvable only when
         country_col holds a country listed in var phone_trunk_zero_calling_codes; else null.
      4. 11 digits starting with 1 -> +1... (NANP with its trunk 1).
      5. 10 digits -> '+' || default_country_code.
      6. Anything else (too short, too long) -> null; the result must match ^[+][1-9][0-9]{7,14}$.

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


{%- macro normalise_phone(col, default_country_code=none, country_col=none) -%}
    {%- set code = (default_country_code if default_country_code is not none
                    else var('default_phone_country_code', '1')) | string | trim -%}
    {%- if not code.isdigit() or code.startswith('0') -%}
        {{ exceptions.raise_compiler_error(
            "normalise_phone(" ~ col ~ "): default_country_code must be a calling code of digits"
            ~ " without a leading 0 (e.g. '1' or '44'), got '" ~ code
            ~ "'. Check var default_phone_country_code.") }}
    {%- endif -%}
    {{ return(adapter.dispatch('normalise_phone')(col, code, country_col)) }}
{%- endmacro -%}

{%- macro default__normalise_phone(col, default_country_code, country_col) -%}
    {#- trimmed: the value without surrounding whitespace; digits: all its digits;
        intl: the digits after '+' or '00' once a trunk 0 after the calling code is dropped -#}
    {%- set trimmed = trim_whitespace(col) -%}
    {%- set digits = strip_non_digits(trimmed) -%}
    {%- set after_prefix -%}
        case when left({{ trimmed }}, 1) = '+' then {{ digits }} else substr({{ digits }}, 3) end
    {%- endset -%}
    {%- set intl = drop_trunk_zero_after_calling_code(after_prefix) -%}
    {%- set trunk_code = _trunk_zero_calling_code(country_col) if country_col is not none -%}
    {%- set candidate -%}
    case
        when not {{ regex_full_match(trimmed, '[+]?[0-9 ()./-]+') }} then null
        when left({{ trimmed }}, 1) = '+' or left({{ trimmed }}, 2) = '00' then '+' || {{ intl }}
        {%- if country_col is not none %}
        when left({{ digits }}, 1) = '0' and {{ trunk_code }} is not null
            then '+' || {{ trunk_code }} || substr({{ digits }}, 2)
        {%- endif %}
        when left({{ digits }}, 1) = '0' then null
        when length({{ digits }}) = 11 and left({{ digits }}, 1) = '1' then '+' || {{ digits }}
        when length({{ digits }}) = 10 then '+{{ default_country_code }}' || {{ digits }}
    end
    {%- endset -%}
    case
        when {{ regex_full_match(candidate, '[+][1-9][0-9]{7,14}') }} then {{ candidate }}
    end
{%- endmacro -%}


{#- ---- phone country data ------------------------------------------------------------- -#}

{%- macro _trunk_zero_calling_codes() -%}
    {#- Countries whose national numbers start with a trunk 0 that E.164 drops. -#}
    {{ return(var('phone_trunk_zero_calling_codes', {
        'GB': '44', 'UK': '44', 'DE': '49', 'FR': '33', 'NL': '31', 'BE': '32', 'AT': '43',
        'CH': '41', 'IE': '353', 'SE': '46', 'AU': '61', 'NZ': '64'})) }}
{%- endmacro -%}

{%- macro _trunk_zero_calling_code(country_col) -%}
    case upper({{ trim_whitespace(country_col) }})
    {%- for country, code in _trunk_zero_calling_codes().items() %}
        when '{{ country }}' then '{{ code }}'
    {%- endfor %}
    end
{%- endmacro -%}

{%- macro _trunk_zero_code_alternation() -%}
    {{ return(_trunk_zero_calling_codes().values() | unique | sort | join('|')) }}
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

{%- macro drop_trunk_zero_after_calling_code(digits) -%}
    {{ return(adapter.dispatch('drop_trunk_zero_after_calling_code')(digits)) }}
{%- endmacro -%}

{#- Calling codes are prefix-free, so '440...' can only be 44 followed by a trunk 0. -#}
{%- macro duckdb__drop_trunk_zero_after_calling_code(digits) -%}
    regexp_replace({{ digits }}, '^({{ _trunk_zero_code_alternation() }})0', '\1')
{%- endmacro -%}

{%- macro default__drop_trunk_zero_after_calling_code(digits) -%}
    {#- Snowflake string literals consume one backslash: '\\1' reaches the regex as \1 -#}
    regexp_replace({{ digits }}, '^({{ _trunk_zero_code_alternation() }})0', '\\1')
{%- endmacro -%}
