{#-
    identity_config(): every identity-resolution setting, with its default, in one place.

    Each key can be overridden by a dbt var named identity_<key> (in dbt_project.yml or with
    --vars). Models and macros read settings only through this macro, so a default lives here
    and nowhere else. Values are checked, and a bad value fails compilation naming the var.
-#}
{%- macro identity_config() -%}
    {%- set defaults = {
        'id_priority': ['user_id', 'crm_id', 'email', 'phone', 'loyalty_id', 'device_id',
                        'anonymous_id'],
        'placeholder_values': ['', 'unknown', 'null', 'none', 'nil', 'nan', 'undefined',
                               '[object object]', '0', '-1', 'anonymous', 'anon', 'guest',
                               'n/a', 'na', 'test', 'default', 'not set', 'not available',
                               '00000000-0000-0000-0000-000000000000'],
        'placeholder_patterns': ['^[0-]+$', '^[f-]{32,}$'],
        'blocked_values': {
            'email': ['test@test.com', 'test@example.com', 'email@example.com',
                      'noemail@noemail.com', 'none@none.com', 'no@email.com', 'a@a.com',
                      'noreply@noreply.com', 'null@null.com', 'unknown@unknown.com'],
            'phone': ['+10000000000', '+11111111111', '+11234567890', '+15555555555',
                      '+19999999999'],
        },
        'valid_patterns': {
            'email': '^[^@[:space:]]+@[^@[:space:]]+[.][a-z]{2,}$',
            'phone': '^[+][1-9][0-9]{7,14}$',
            'user_id': '^[^[:space:]]{1,128}$',
            'crm_id': '^[^[:space:]]{1,128}$',
            'loyalty_id': '^[^[:space:]]{1,128}$',
            'device_id': '^[^[:space:]]{1,128}$',
            'anonymous_id': '^[^[:space:]]{1,128}$',
        },
        'strong_id_types': ['user_id', 'crm_id', 'email', 'phone', 'loyalty_id'],
        'person_caps': {'device_id': 1, 'anonymous_id': 1},
        'link_caps': [
            {'id_type': 'user_id', 'linked_type': 'email', 'max': 3},
            {'id_type': 'loyalty_id', 'linked_type': 'email', 'max': 3},
            {'id_type': 'loyalty_id', 'linked_type': 'phone', 'max': 3},
            {'id_type': 'phone', 'linked_type': 'email', 'max': 3},
            {'id_type': 'email', 'linked_type': 'user_id', 'max': 2},
        ],
        'max_iterations': 30,
        'max_cluster_size': 200,
    } -%}
    {%- set config = {} -%}
    {%- for key, default in defaults.items() -%}
        {%- do config.update({key: var('identity_' ~ key, default)}) -%}
    {%- endfor -%}
    {%- do _identity_check_config(config) -%}
    {{ return(config) }}
{%- endmacro -%}

{%- macro _identity_check_config(config) -%}
    {%- set known = ['user_id', 'crm_id', 'email', 'phone', 'loyalty_id', 'device_id',
                     'anonymous_id'] -%}
    {%- if config.id_priority | sort != known | sort -%}
        {{ exceptions.raise_compiler_error(
            "var identity_id_priority must list each identifier type exactly once: "
            ~ known | join(', ') ~ "; got " ~ config.id_priority | join(', ')) }}
    {%- endif -%}
    {%- for rule in config.link_caps -%}
        {%- if rule.id_type not in known or rule.linked_type not in known
               or rule.max is not number or rule.max < 1 -%}
            {{ exceptions.raise_compiler_error(
                "var identity_link_caps: rule " ~ loop.index ~ " (" ~ rule ~ ") needs id_type "
                ~ "and linked_type among " ~ known | join(', ') ~ " and an integer max >= 1") }}
        {%- endif -%}
    {%- endfor -%}
    {%- for id_type in config.strong_id_types -%}
        {%- if id_type not in known -%}
            {{ exceptions.raise_compiler_error(
                "var identity_strong_id_types: unknown identifier type '" ~ id_type
                ~ "'; choose among " ~ known | join(', ')) }}
        {%- endif -%}
    {%- endfor -%}
    {%- for id_type, max in config.person_caps.items() -%}
        {%- if id_type not in known or id_type in config.strong_id_types
               or max is not number or max < 1 -%}
            {{ exceptions.raise_compiler_error(
                "var identity_person_caps: '" ~ id_type ~ ": " ~ max ~ "' needs a weak "
                ~ "identifier type (not in identity_strong_id_types) and an integer >= 1") }}
        {%- endif -%}
    {%- endfor -%}
    {%- for id_type in known -%}
        {%- if id_type not in config.valid_patterns -%}
            {{ exceptions.raise_compiler_error(
                "var identity_valid_patterns has no pattern for " ~ id_type) }}
        {%- endif -%}
    {%- endfor -%}
    {%- if config.max_iterations is not number or config.max_iterations < 1 -%}
        {{ exceptions.raise_compiler_error(
            "var identity_max_iterations must be an integer >= 1, got "
            ~ config.max_iterations) }}
    {%- endif -%}
{%- endmacro -%}
