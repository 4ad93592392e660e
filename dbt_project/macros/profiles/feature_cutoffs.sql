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
