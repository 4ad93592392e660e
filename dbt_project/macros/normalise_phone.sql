{#-
    Phone numbers to E.164, country-aware, from Google's libphonenumber metadata.

    normalise_phone(col, default_region=none, region_lookup=none)
        '+' calling code national-number, or null when the value cannot be a phone number.
    phone_region_lookup(country_col, alias)
        a LEFT JOIN (put after the model's FROM) that gives each row its country's phone
        facts under `alias`; pass the alias as normalise_phone's region_lookup.
    phone_extension(col)
        the extension digits of a number written with one ('x976', 'ext. 12', '#4',
        ';ext=9'), else null. The number itself still normalises: an extension never costs
        the number.

    default_region: ISO 3166 alpha-2 region for numbers written without an international
    prefix (var default_phone_region, 'US' unless set; a calling code such as '44' is also
    accepted and means that code's main country). region_lookup: the alias of a
    phone_region_lookup join on a column holding the record's own country (ISO alpha-2 or
    alpha-3 code, or its name in English or a major European language: 'GB', 'gbr', 'UK',
    'United Kingdom', 'Deutschland', 'Brasil'; any case, padded or not); where it names a
    known region it is read first, then the default region.

    Calling codes, trunk (national) prefixes, international call prefixes and the lengths a
    national significant number may have come from macros/phone_metadata.sql, generated from
    the `phonenumbers` package (python -m tessera.identity.phone_metadata), never typed here.

    Rules, after trimming and cutting off an extension:
      1. Anything but digits, spaces and + ( ) - . / (letters, '*') -> null.
      2. International: '+', '00' or the region's own international prefix ('011' in North
         America, '0011' in Australia ...) followed by a calling code. A trunk prefix written
         after the calling code ('+44 (0)20 ...', '0049 030 ...') is dropped when what
         remains has a valid length for that code (so Russia's '+7 812 ...' keeps its 8).
      3. National: the region's trunk prefix is dropped when what remains has a valid length
         ('020 7946 0958' in GB, '098765 43210' in IN, '1 415 555 0134' in the US); otherwise
         the digits as written; otherwise, when they start with the region's calling code
         typed without '+' ('44 20 7946 0958'), the digits after it. Digits are never read as
         an international number without a '+' or an international prefix: '(41) 97573-5014'
         with no country is null, not Swiss +41 97573 5014.
      4. The result must be a known calling code followed by a national number of one of its
         lengths; anything else is null.
    Numbers with a leading trunk 0 but no usable country are null rather than guessed.
-#}

{%- macro normalise_phone(col, default_region=none, region_lookup=none) -%}
    {%- set region = _phone_default_region(default_region, col) -%}
    {{ return(adapter.dispatch('normalise_phone')(col, region, region_lookup)) }}
{%- endmacro -%}

{%- macro phone_region_lookup(country_col, alias) -%}
    {#- A LEFT JOIN giving each row its country's phone facts as alias.cc, alias.trunk and
        alias.intl (null for a missing or unknown country), for normalise_phone's
        region_lookup. A join on an inline VALUES list keeps the expression small and the
        lookup a hash join, where a CASE over every region would be written out at each use. -#}
    {%- set meta = _phone_meta() -%}
    left join (
        values
        {%- for code, r in meta.regions.items() | sort %}
            ('{{ code }}', '{{ r.cc }}', '{{ r.trunk }}', '{{ r.intl }}'),
        {%- endfor %}
        {%- for name, code in meta.country_names.items() | sort %}
            {%- set r = meta.regions[code] %}
            ('{{ name }}', '{{ r.cc }}', '{{ r.trunk }}', '{{ r.intl }}'){{ ',' if not loop.last }}
        {%- endfor %}
    ) as {{ alias }} (region, cc, trunk, intl)
        on {{ alias }}.region = upper({{ trim_whitespace(country_col) }})
{%- endmacro -%}

{%- macro default__normalise_phone(col, region, region_lookup) -%}
    {#- One regex validates: the candidate readings of the number are joined with commas in
        order of preference and the first that is a known calling code followed by a national
        number of that code's shape wins. SQL has no variables, so every use of an expression
        is written out in full: the readings are built to use the digits as few times as
        possible, which keeps the compiled views small. -#}
    {%- set meta = _phone_meta() -%}
    {%- set number = phone_without_extension("cast(" ~ col ~ " as varchar)") -%}
    {%- set digits = strip_non_digits(number) -%}
    {%- set default = meta.regions[region] -%}
    {%- if region_lookup is not none -%}
        {%- set own = {
            'cc': "coalesce(" ~ region_lookup ~ ".cc, '')",
            'trunk': "coalesce(" ~ region_lookup ~ ".trunk, '')",
            'intl': "coalesce(" ~ region_lookup ~ ".intl, '" ~ default.intl ~ "')"} -%}
        {%- set intl = own.intl -%}
    {%- else -%}
        {%- set intl = "'" ~ default.intl ~ "'" -%}
    {%- endif -%}
    {#- the digits, with '+' in front when written international: '+', '00' or the region's
        own international prefix (011 in North America, 0011 in Australia) -#}
    {%- set form -%}
        (case
            when {{ regex_full_match(number, '[^0-9]*[+].*') }} then '+' || {{ digits }}
            when length({{ intl }}) > 2 and left({{ digits }}, length({{ intl }})) = {{ intl }}
                then '+' || substr({{ digits }}, length({{ intl }}) + 1)
            when left({{ digits }}, 2) = '00' then '+' || substr({{ digits }}, 3)
            else {{ digits }}
        end)
    {%- endset -%}
    {%- set rest = "substr(" ~ form ~ ", 2)" -%}
    {#- national readings of the default region: trunk prefix dropped, as written, or typed
        with the calling code but no '+' ('1 415 555 0134' -> 1 4155550134, 14155550134 ...).
        The last only when the digits do start with that code: the digits alone are not read
        as some other country's number ('(41) 97573-5014', Brazilian, is not +41 Swiss); an
        unmatched text keeps its '#' and so is no candidate. -#}
    {%- if default.trunk -%}
        {%- set default_readings = regexp_replace_groups(
                form, '^(' ~ default.trunk ~ ')?(' ~ default.cc ~ ')?([0-9]*)$',
                default.cc ~ '{2}{3},' ~ default.cc ~ '{1}{2}{3}')
            ~ " || ',' || " ~ regexp_replace_groups(
                '(' ~ form ~ " || '#')", '^(' ~ default.trunk ~ ')?(' ~ default.cc ~ '[0-9]*)#$',
                '{2}') -%}
    {%- else -%}
        {%- set default_readings = regexp_replace_groups(
                form, '^(' ~ default.cc ~ ')?([0-9]*)$', default.cc ~ '{1}{2}')
            ~ " || ',' || " ~ regexp_replace_groups(
                '(' ~ form ~ " || '#')", '^(' ~ default.cc ~ '[0-9]*)#$', '{1}') -%}
    {%- endif -%}
    {%- set candidates -%}
        case
            when left({{ form }}, 1) = '+'
                then {{ _phone_drop_trunk_after_code(meta, rest) }} || ',' || {{ rest }}
            else
            {%- if region_lookup is not none %}
                case
                    when length({{ own.trunk }}) > 0
                        and left({{ form }}, length({{ own.trunk }})) = {{ own.trunk }}
                        then {{ own.cc }} || substr({{ form }}, length({{ own.trunk }}) + 1)
                    else ''
                end
                || ',' || case when length({{ own.cc }}) > 0 then {{ own.cc }} || {{ form }} else '' end
                || ',' || case
                    when length({{ own.cc }}) > 0
                        and left({{ form }}, length({{ own.cc }})) = {{ own.cc }} then {{ form }}
                    else ''
                end || ',' ||
            {%- endif %}
                {{ default_readings }}
        end
    {%- endset -%}
    case
        when {{ col }} is null then null
        when not {{ regex_full_match(trim_whitespace(number), '[+]?[0-9 ()./-]+') }} then null
        else '+' || {{ regex_extract_group(candidates, '(^|,)(' ~ meta.valid_pattern ~ ')(,|$)', 2) }}
    end
{%- endmacro -%}


{%- macro regexp_replace_groups(expr, pattern, template) -%}
    {#- replace the match of `pattern` by `template`, where {1}, {2} ... stand for its groups -#}
    {{ return(adapter.dispatch('regexp_replace_groups')(expr, pattern, template)) }}
{%- endmacro -%}

{%- macro duckdb__regexp_replace_groups(expr, pattern, template) -%}
    regexp_replace({{ expr }}, '{{ pattern }}', '{{ template | replace("{", "\\") | replace("}", "") }}')
{%- endmacro -%}

{%- macro default__regexp_replace_groups(expr, pattern, template) -%}
    {#- Snowflake string literals consume one backslash: '\\1' reaches the regex as \1 -#}
    regexp_replace({{ expr }}, '{{ pattern }}', '{{ template | replace("{", "\\\\") | replace("}", "") }}')
{%- endmacro -%}


{%- macro regex_extract_group(expr, pattern, group) -%}
    {#- group `group` of the leftmost match of `pattern` in expr, or null when none -#}
    {{ return(adapter.dispatch('regex_extract_group')(expr, pattern, group)) }}
{%- endmacro -%}

{%- macro duckdb__regex_extract_group(expr, pattern, group) -%}
    nullif(regexp_extract({{ expr }}, '{{ pattern }}', {{ group }}), '')
{%- endmacro -%}

{%- macro default__regex_extract_group(expr, pattern, group) -%}
    regexp_substr({{ expr }}, '{{ pattern }}', 1, 1, 'e', {{ group }})
{%- endmacro -%}


{%- macro phone_extension(col) -%}
    {{ return(adapter.dispatch('phone_extension')(col)) }}
{%- endmacro -%}

{%- macro _phone_extension_pattern() -%}
    {#- a separator, a marker (extension, extn, ext, x, #) and 1-7 digits at the end -#}
    {{ return('[[:space:],;]*(extension|extn|ext|x|#)[.:=]?[[:space:]]*([0-9]{1,7})[^0-9]*$') }}
{%- endmacro -%}

{%- macro duckdb__phone_extension(col) -%}
    nullif(regexp_extract({{ trim_whitespace(col) }}, '{{ _phone_extension_pattern() }}', 2, 'i'), '')
{%- endmacro -%}

{%- macro default__phone_extension(col) -%}
    regexp_substr({{ trim_whitespace(col) }}, '{{ _phone_extension_pattern() }}', 1, 1, 'ie', 2)
{%- endmacro -%}

{%- macro phone_without_extension(expr) -%}
    {{ return(adapter.dispatch('phone_without_extension')(expr)) }}
{%- endmacro -%}

{%- macro duckdb__phone_without_extension(expr) -%}
    regexp_replace({{ expr }}, '{{ _phone_extension_pattern() }}', '', 'i')
{%- endmacro -%}

{%- macro default__phone_without_extension(expr) -%}
    {#- lower() instead of the 'i' parameter, which fakesnow cannot run; only the digits and
        '+' of the result are read. Snowflake replaces every match by default. -#}
    regexp_replace(lower({{ expr }}), '{{ _phone_extension_pattern() }}', '')
{%- endmacro -%}


{#- ---- metadata, parsed at compile time ------------------------------------------------- -#}

{%- macro _phone_meta() -%}
    {#- phone_metadata(), country_names (name -> region, from phone_country_names()) and
        valid_pattern: every calling code followed by a national number
        its regions can have (codes with the same national pattern share one alternative) -#}
    {%- set meta = phone_metadata() -%}
    {%- set country_names = {} -%}
    {%- for region, names in phone_country_names().items() -%}
        {%- for name in names -%}{%- do country_names.update({name: region}) -%}{%- endfor -%}
    {%- endfor -%}
    {%- set by_national = {} -%}
    {%- for code, info in meta.calling_codes.items() -%}
        {%- do by_national.setdefault(info.national, []).append(code) -%}
    {%- endfor -%}
    {%- set alternatives = [] -%}
    {%- for national, codes in by_national.items() | sort -%}
        {%- do alternatives.append('(' ~ codes | sort | join('|') ~ ')(' ~ national ~ ')') -%}
    {%- endfor -%}
    {{ return({'regions': meta.regions, 'codes': meta.calling_codes,
               'country_names': country_names,
               'valid_pattern': alternatives | join('|')}) }}
{%- endmacro -%}

{%- macro _phone_default_region(default_region, col) -%}
    {%- set meta = _phone_meta() -%}
    {%- set value = (default_region if default_region is not none
                     else var('default_phone_region', 'US')) | string | trim | upper -%}
    {%- if value in meta.regions -%}
        {{ return(value) }}
    {%- endif -%}
    {%- if value in meta.country_names -%}
        {{ return(meta.country_names[value]) }}
    {%- endif -%}
    {#- a calling code: its main country -#}
    {%- if value in meta.codes -%}
        {{ return(meta.codes[value].main_region) }}
    {%- endif -%}
    {{ exceptions.raise_compiler_error(
        "normalise_phone(" ~ col ~ "): default region '" ~ value ~ "' is neither an ISO 3166 "
        ~ "alpha-2 region known to the phone metadata (e.g. US, GB, IN) nor a calling code. "
        ~ "Check var default_phone_region.") }}
{%- endmacro -%}

{%- macro _phone_drop_trunk_after_code(meta, digits) -%}
    {#- digits with a trunk prefix right after the calling code removed ('44020...' ->
        '4420...'); calling codes are prefix-free, so at most one code matches -#}
    {%- set by_trunk = {} -%}
    {%- for code, info in meta.codes.items() | sort if info.trunk -%}
        {%- do by_trunk.setdefault(info.trunk, []).append(code) -%}
    {%- endfor -%}
    {%- set expr = {'sql': digits} -%}
    {%- for trunk, codes in by_trunk.items() | sort -%}
        {%- do expr.update({'sql': regexp_replace_first_group(
            expr.sql, '^(' ~ codes | join('|') ~ ')' ~ trunk)}) -%}
    {%- endfor -%}
    {{ return(expr.sql) }}
{%- endmacro -%}

{%- macro regexp_replace_first_group(expr, pattern) -%}
    {#- replace the match of `pattern` by its first group -#}
    {{ return(adapter.dispatch('regexp_replace_first_group')(expr, pattern)) }}
{%- endmacro -%}

{%- macro duckdb__regexp_replace_first_group(expr, pattern) -%}
    regexp_replace({{ expr }}, '{{ pattern }}', '\1')
{%- endmacro -%}

{%- macro default__regexp_replace_first_group(expr, pattern) -%}
    {#- Snowflake string literals consume one backslash: '\\1' reaches the regex as \1 -#}
    regexp_replace({{ expr }}, '{{ pattern }}', '\\1')
{%- endmacro -%}
