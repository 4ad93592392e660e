{#-
    Experiments declared in segments' YAML (config.meta.experiments; the rules and an example:
    tessera/experiments/config.py), read from dbt's graph and checked here with the same rules,
    so a plain `dbt build` refuses what `tessera experiments validate` refuses. Returns a list
    of dicts with the arms resolved to hash-bucket ranges of 10,000 buckets, in declared order.
-#}
{%- macro experiment_definitions() -%}
    {%- if not execute -%}{{ return([]) }}{%- endif -%}
    {%- set allowed = ['name', 'arms', 'start_date', 'outcome', 'window_days', 'syncs', 'holdout_arm', 'salt'] -%}
    {%- set required = ['name', 'arms', 'start_date', 'outcome', 'window_days'] -%}
    {%- set name_re = modules.re.compile('^[a-z][a-z0-9_]{0,62}$') -%}
    {%- set date_re = modules.re.compile('^[0-9]{4}-[0-9]{2}-[0-9]{2}$') -%}
    {%- set out = [] -%}
    {%- set seen = {} -%}
    {%- for node in graph.nodes.values() | sort(attribute='unique_id') -%}
        {%- set meta = (node.config.meta if node.config is defined and node.config.meta else node.meta) or {} -%}
        {%- if node.resource_type == 'model' and meta.get('experiments') is not none -%}
            {%- set declared_in = (node.patch_path or node.original_file_path) | replace(node.package_name ~ '://', '') -%}
            {%- set where = declared_in ~ ': models[' ~ node.name ~ '].config.meta.experiments' -%}
            {%- if meta.experiments is string or meta.experiments is mapping or meta.experiments is not iterable -%}
                {{ exceptions.raise_compiler_error(where ~ ': must be a list of experiments') }}
            {%- endif -%}
            {%- for exp in meta.experiments -%}
                {%- set key = where ~ '[' ~ loop.index0 ~ ']' -%}
                {%- if exp is not mapping -%}
                    {{ exceptions.raise_compiler_error(key ~ ': must be a mapping with name, arms, start_date, outcome, window_days') }}
                {%- endif -%}
                {%- for k in exp -%}
                    {%- if k not in allowed -%}
                        {{ exceptions.raise_compiler_error(key ~ '.' ~ k ~ ': unknown key (allowed: ' ~ (allowed | sort | join(', ')) ~ ')') }}
                    {%- endif -%}
                {%- endfor -%}
                {%- for k in required if exp.get(k) is none -%}
                    {{ exceptions.raise_compiler_error(key ~ '.' ~ k ~ ': is required') }}
                {%- endfor -%}
                {%- if exp.name is not string or not name_re.match(exp.name) -%}
                    {{ exceptions.raise_compiler_error(key ~ '.name: must be lower-case letters, digits and _ (max 63)') }}
                {%- endif -%}
                {%- if exp.name in seen -%}
                    {{ exceptions.raise_compiler_error(key ~ '.name: experiment ' ~ exp.name ~ ' is already declared in ' ~ seen[exp.name] ~ '; names must be unique') }}
                {%- endif -%}
                {%- do seen.update({exp.name: where}) -%}
                {%- set start = exp.start_date | string -%}
                {%- if not date_re.match(start) -%}
                    {{ exceptions.raise_compiler_error(key ~ '.start_date: ' ~ start ~ ' is not a date (YYYY-MM-DD)') }}
                {%- endif -%}
                {%- if exp.outcome not in ['purchase'] -%}
                    {{ exceptions.raise_compiler_error(key ~ '.outcome: ' ~ exp.outcome ~ ' is not one of purchase') }}
                {%- endif -%}
                {%- if exp.window_days is not number or exp.window_days is boolean or exp.window_days != (exp.window_days | int) or exp.window_days < 1 or exp.window_days > 3650 -%}
                    {{ exceptions.raise_compiler_error(key ~ '.window_days: must be a whole number 1-3650') }}
                {%- endif -%}
                {%- set syncs = exp.get('syncs', meta.get('syncs') or []) -%}
                {%- if syncs is string or syncs is mapping or syncs is not iterable -%}
                    {{ exceptions.raise_compiler_error(key ~ '.syncs: must be a list of sync names') }}
                {%- endif -%}
                {%- set arms = exp.arms -%}
                {%- if arms is not mapping or arms | length < 2 -%}
                    {{ exceptions.raise_compiler_error(key ~ '.arms: must map at least two arm names to shares in percent') }}
                {%- endif -%}
                {%- set holdout = exp.get('holdout_arm', 'holdout') -%}
                {%- if holdout not in arms -%}
                    {{ exceptions.raise_compiler_error(key ~ '.holdout_arm: ' ~ holdout ~ ' is not one of the arms (' ~ (arms.keys() | join(', ')) ~ '); name the arm that is never sent') }}
                {%- endif -%}
                {%- set total = namespace(value=0) -%}
                {%- for arm, share in arms.items() -%}
                    {%- if arm is not string or not name_re.match(arm) -%}
                        {{ exceptions.raise_compiler_error(key ~ '.arms.' ~ arm ~ ': arm names are lower-case letters, digits, _') }}
                    {%- endif -%}
                    {%- if share is not number or share is boolean or share <= 0 -%}
                        {{ exceptions.raise_compiler_error(key ~ '.arms.' ~ arm ~ ': share ' ~ share ~ ' must be a positive number') }}
                    {%- endif -%}
                    {%- set total.value = total.value + share -%}
                {%- endfor -%}
                {%- if (total.value - 100) | abs > 0.000000001 -%}
                    {{ exceptions.raise_compiler_error(key ~ '.arms: shares add up to ' ~ total.value ~ ', not 100') }}
                {%- endif -%}
                {%- set resolved = [] -%}
                {%- set cumulative = namespace(value=0) -%}
                {%- for arm, share in arms.items() -%}
                    {%- set low = (cumulative.value * 100) | round | int -%}
                    {%- set cumulative.value = cumulative.value + share -%}
                    {%- do resolved.append({
                        'arm': arm, 'arm_order': loop.index, 'share': share,
                        'is_holdout': arm == holdout,
                        'bucket_low': low, 'bucket_high': (cumulative.value * 100) | round | int}) -%}
                {%- endfor -%}
                {%- do out.append({
                    'experiment': exp.name, 'segment': node.name, 'source_file': declared_in,
                    'arms': resolved, 'start_date': start, 'outcome': exp.outcome,
                    'window_days': exp.window_days | int, 'syncs': syncs,
                    'salt': exp.get('salt', exp.name) | string}) -%}
            {%- endfor -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(out) }}
{%- endmacro -%}

{#- A string literal for SQL (single quotes doubled). -#}
{%- macro experiment_literal(value) -%}
    '{{ value | string | replace("'", "''") }}'
{%- endmacro -%}

{#- The moment outcomes are measured up to: var experiments_as_of (a date or timestamp), else
    the start of this dbt run (UTC), as a timestamp literal every warehouse reads the same. -#}
{%- macro experiments_as_of() -%}
    {%- set value = var('experiments_as_of', none) -%}
    {%- if value is none -%}
        {%- set value = run_started_at.strftime('%Y-%m-%d %H:%M:%S') -%}
    {%- endif -%}
    cast({{ experiment_literal(value) }} as timestamp)
{%- endmacro -%}

{#- segments.segment_membership (written after each segment refresh by tessera/segments/
    membership.py) when it exists, else an empty relation of the same shape: experiments
    build before any segment was ever tracked, and assign nobody. -#}
{%- macro experiments_membership() -%}
    {%- set source_relation = source('segments', 'segment_membership') -%}
    {%- set found = adapter.get_relation(database=source_relation.database,
                                         schema=source_relation.schema,
                                         identifier=source_relation.identifier) if execute else none -%}
    {%- if found is not none -%}
        select segment, person_id, entered_at, exited_at from {{ source_relation }}
    {%- else -%}
        select
            cast(null as varchar) as segment,
            cast(null as varchar) as person_id,
            cast(null as timestamp) as entered_at,
            cast(null as timestamp) as exited_at
        where 1 = 0
    {%- endif -%}
{%- endmacro -%}
