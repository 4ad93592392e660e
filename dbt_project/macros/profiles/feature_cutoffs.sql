{#-
    feature_cutoff_dates(): the explicit cutoffs of var feature_cutoffs as a list of
    'YYYY-MM-DD' strings (a YAML list or a comma-separated string), or an empty list when the
    var is unset and the cutoffs are generated from the data (see int_feature_cutoffs).
-#}
{%- macro feature_cutoff_dates() -%}
    {%- set raw = profile_var('feature_cutoffs') -%}
    {%- if raw is none or raw == '' -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set items = raw.split(',') if raw is string else raw -%}
    {%- set dates = [] -%}
    {%- for item in items -%}
        {%- set text = item | string | trim -%}
        {%- if not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', text) -%}
            {{ exceptions.raise_compiler_error(
                "dbt var feature_cutoffs: '" ~ text ~ "' is not a date like 2026-01-01") }}
        {%- endif -%}
        {%- do dates.append(text) -%}
    {%- endfor -%}
    {{ return(dates | unique | sort) }}
{%- endmacro -%}

{#-
    features_as_of(): var features_as_of as 'YYYY-MM-DD', or none. When set, the feature and
    label tables are built as if today were that date (its scoring cutoff; labels only from
    outcomes before it) while profiles keep their own as_of: `tessera ml train | score
    --as-of DATE` sets it.
-#}
{%- macro features_as_of() -%}
    {%- set raw = var('features_as_of', none) -%}
    {%- if raw is none or raw == '' -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set text = raw | string | trim -%}
    {%- if not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', text) -%}
        {{ exceptions.raise_compiler_error(
            "dbt var features_as_of: '" ~ text ~ "' is not a date like 2026-01-01") }}
    {%- endif -%}
    {{ return(text) }}
{%- endmacro -%}
