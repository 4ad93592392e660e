{#-
    tessera_identifier_verdict(id_type, raw): what identity makes of a raw identifier value,
    for `tessera sources check`: null when identity keeps it (or it is null), 'placeholder'
    or 'blocked_value' when identity drops it as one, 'invalid_format' when staging's
    normalisation or identity's shape rules reject it. Staging's normalisation macros and
    identity's own rules (identity_invalid_reason, identity_config and its identity_* vars)
    decide, so the check cannot drift from what the build does.
-#}
{%- macro tessera_identifier_verdict(id_type, raw) -%}
    {%- set text = "cast(" ~ raw ~ " as " ~ dbt.type_string() ~ ")" -%}
    {%- if id_type == 'email' -%}
        {%- set normalised = normalise_email(text) -%}
    {%- elif id_type == 'phone' -%}
        {%- set normalised = normalise_phone(text) -%}
    {%- else -%}
        {%- set normalised = normalise_identifier(text) -%}
    {%- endif -%}
    {#- a placeholder typed into an email or phone field ('unknown', 'n/a') never reaches
        identity, because staging nulls it; it is still a placeholder to the person reading
        the check, so the trimmed value is judged by identity's lists first -#}
    {%- set as_typed = "lower(" ~ normalise_identifier(text) ~ ")" -%}
    case
        when ({{ normalise_identifier(text) }}) is null then null
        when ({{ identity_invalid_reason(id_type, as_typed) }}) in ('placeholder', 'blocked_value')
            then {{ identity_invalid_reason(id_type, as_typed) }}
        when ({{ normalised }}) is null then 'invalid_format'
        else {{ identity_invalid_reason(id_type, "(" ~ normalised ~ ")") }}
    end
{%- endmacro -%}
