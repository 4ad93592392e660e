{#-
    The source contract at build time (README "Use your own data").

    Staging reads every contract table through a base model, base_<source>__<table>, which is
    tessera_source(source, table); var tessera_sources (tessera_sources_config.sql) decides,
    when the build runs, what that reads:
      - enabled: false: nothing; the contract's columns, typed, with no rows
      - no adapter named, and every required contract table of the source where the settings
        put it (default schema raw): those tables, conformed to the contract
      - else an adapter's model (models/adapters/<adapter>/), when its loader's tables are
        found: the one named, or with no `adapter` key any adapter of the source whose
        signature matches exactly one schema
      - else no rows, with a warning (enabled: auto) or a failed build saying what to do
        (enabled: true)
    The contract itself (tables, columns, types, which are required, identifier types, keys,
    load timestamps) is the sources YAML of each staging folder.

    Conformed: a table is read with exactly the contract's columns, in its order and types: a
    column that has the contract's type as it is (so filters reach the scan), another type
    cast (tessera_cast: text with try_cast, timestamps with a zone, an offset or a zone name
    to UTC), an absent optional column as a typed null; an absent required column fails the
    build naming it. Extra columns are not read.
-#}

{%- macro tessera_source(source_name, table_name) -%}
    {%- set cfg = tessera_source_config(source_name) -%}
    {#- the contract table and the adapters that may stand in for it are always parents
        (lineage, and the input staging unit tests replace); which one is read is decided
        when the build runs -#}
    {%- set relation = source(source_name, table_name) -%}
    {%- set adapted = {} -%}
    {%- for name in cfg.adapters if table_name in tessera_adapters()[name].tables -%}
        {%- do adapted.update({name: ref('adapter_' ~ name ~ '__' ~ table_name)}) -%}
    {%- endfor -%}
    {#- parsing, and unit tests (their fixture stands in for the table), read it as it is -#}
    {%- if not execute or model.resource_type == 'unit_test' -%}
        {{ return(relation) }}
    {%- endif -%}
    {%- if cfg.enabled == 'off' -%}
        {{ return(tessera_empty_relation(source_name, table_name)) }}
    {%- endif -%}
    {%- if cfg.adapter is none -%}
        {%- set state = tessera_source_state(source_name) -%}
        {%- if state.on -%}
            {%- set node = tessera_contract_node(source_name, table_name) -%}
            {%- set found = tessera_find_relation(node) -%}
            {#- on and complete: a missing table is an optional one -#}
            {{ return(tessera_conformed_select(node, found) if found is not none
                      else tessera_empty_relation(source_name, table_name)) }}
        {%- endif -%}
        {%- set reason = state.reason -%}
    {%- else -%}
        {%- set reason = "adapter " ~ cfg.adapter ~ " is set" -%}
    {%- endif -%}
    {#- no contract tables (or an adapter is set): a loader's schema, if one is there -#}
    {%- for name in cfg.adapters if tessera_discover_adapter(name) is not none -%}
        {{ return(adapted[name] if name in adapted
                  else tessera_empty_relation(source_name, table_name)) }}
    {%- endfor -%}
    {%- set looked_for = [] -%}
    {%- for name in cfg.adapters -%}
        {%- do looked_for.append(name ~ " (" ~ tessera_adapters()[name].signature.tables
            | join('/') ~ ")") -%}
    {%- endfor -%}
    {%- set message = "Source '" ~ source_name ~ "': " ~ reason
        ~ ((", and no loader schema of the shape of adapter " ~ looked_for | join(', ')
            ~ " in " ~ cfg.database ~ (("." ~ cfg.schema) if cfg.schema else ""))
           if looked_for else "") ~ "." -%}
    {%- if cfg.enabled == 'on' -%}
        {{ exceptions.raise_compiler_error(message ~ " The source is on (var tessera_sources."
            ~ source_name ~ ".enabled: true): load its tables, point tessera_sources."
            ~ source_name ~ " (database, schema, tables, adapter) at them, or set enabled: "
            ~ "false. `tessera sources check` lists what each source has.") }}
    {%- endif -%}
    {%- do exceptions.warn(message ~ " Built empty (var tessera_sources." ~ source_name
        ~ ".enabled is auto); `tessera sources check` lists what each source has.") -%}
    {{ return(tessera_empty_relation(source_name, table_name)) }}
{%- endmacro -%}

{%- macro tessera_contract_node(source_name, table_name) -%}
    {%- for node in graph.sources.values() -%}
        {%- if node.source_name == source_name and node.name == table_name -%}
            {{ return(node) }}
        {%- endif -%}
    {%- endfor -%}
    {{ exceptions.raise_compiler_error(
        "tessera_source: no contract table " ~ source_name ~ "." ~ table_name) }}
{%- endmacro -%}

{%- macro tessera_node_meta(node) -%}
    {{ return(node.config.get('meta') or node.meta or {}) }}
{%- endmacro -%}

{%- macro tessera_find_relation(node) -%}
    {{ return(adapter.get_relation(
        database=node.database, schema=node.schema, identifier=node.identifier)) }}
{%- endmacro -%}

{%- macro tessera_source_state(source_name) -%}
    {#- on: every required contract table of the source exists where the settings say -#}
    {%- set missing = [] -%}
    {%- for node in graph.sources.values() -%}
        {%- if node.source_name == source_name and tessera_node_meta(node).get('required') -%}
            {%- if tessera_find_relation(node) is none -%}
                {%- do missing.append(node.database ~ '.' ~ node.schema ~ '.' ~ node.identifier) -%}
            {%- endif -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return({'on': not missing, 'reason': 'no table ' ~ missing | join(', ')}) }}
{%- endmacro -%}

{%- macro tessera_type_family(data_type) -%}
    {%- set t = (data_type or '') | lower -%}
    {%- if 'timestamp' in t or 'datetime' in t -%}
        {{ return('timestamp_tz' if ('with time zone' in t or 'timestamptz' in t
                                     or '_tz' in t or '_ltz' in t) else 'timestamp') }}
    {%- elif t.startswith('date') -%}{{ return('date') }}
    {%- elif 'bool' in t -%}{{ return('boolean') }}
    {%- elif t.startswith(('int', 'bigint', 'smallint', 'tinyint', 'hugeint', 'ubigint',
                           'uinteger', 'usmallint', 'utinyint', 'byteint')) -%}
        {{ return('integer') }}
    {%- elif t.startswith(('number', 'decimal', 'numeric')) -%}
        {{ return('integer' if t.endswith(',0)') or t in ['number', 'numeric'] else 'decimal') }}
    {%- elif t.startswith(('double', 'float', 'real')) -%}{{ return('float') }}
    {%- elif t.startswith(('varchar', 'text', 'string', 'char', 'character')) -%}
        {{ return('string') }}
    {%- else -%}{{ return(t) }}
    {%- endif -%}
{%- endmacro -%}

{%- macro tessera_cast(expr, from_type, to_type) -%}
    {#- expr (of warehouse type from_type) as the contract type to_type. As it is when it
        already has that type, so filters on it reach the scan; timestamps with a zone, and
        text with an offset, Z or a zone name, become UTC wall-clock time; other text is
        try_cast, so a value that does not parse is null here (`tessera sources check` counts
        them) rather than a failed build; anything else is cast. Timestamps without a zone
        are UTC. -#}
    {%- set have = tessera_type_family(from_type) -%}
    {%- set want = tessera_type_family(to_type) -%}
    {%- if tessera_is_exactly(from_type, to_type) -%}
        {{ return(expr) }}
    {%- elif want == 'timestamp' and have == 'timestamp_tz' -%}
        {{ return(tessera_timestamp_tz_as_utc(expr)) }}
    {%- elif want == 'timestamp' and have == 'string' -%}
        {{ return(tessera_text_as_utc_timestamp(expr)) }}
    {%- elif have == 'string' and want != 'string' -%}
        {{ return('try_cast(' ~ expr ~ ' as ' ~ to_type ~ ')') }}
    {%- else -%}
        {{ return('cast(' ~ expr ~ ' as ' ~ to_type ~ ')') }}
    {%- endif -%}
{%- endmacro -%}

{%- macro tessera_is_exactly(warehouse_type, contract_type) -%}
    {#- the warehouse type is the contract type under one of its names (DuckDB, Snowflake) -#}
    {%- set t = (warehouse_type or '') | lower | replace(' ', '') -%}
    {%- set names = {
        'varchar': ['varchar', 'text', 'string'],
        'timestamp': ['timestamp', 'timestampwithouttimezone', 'timestamp_ntz',
                      'timestamp_ntz(9)', 'datetime'],
        'double': ['double', 'float', 'float8', 'doubleprecision', 'real'],
        'integer': ['integer', 'int', 'int4', 'int32', 'number(38,0)', 'number'],
        'boolean': ['boolean', 'bool'],
    } -%}
    {{ return(t in names.get(contract_type | lower, [contract_type | lower])
              or (contract_type | lower == 'varchar' and t.startswith(('varchar(', 'text(')))) }}
{%- endmacro -%}

{%- macro tessera_timestamp_tz_as_utc(expr) -%}
    {{ return(adapter.dispatch('tessera_timestamp_tz_as_utc')(expr)) }}
{%- endmacro -%}

{%- macro duckdb__tessera_timestamp_tz_as_utc(expr) -%}
    timezone('UTC', {{ expr }})
{%- endmacro -%}

{%- macro default__tessera_timestamp_tz_as_utc(expr) -%}
    cast(convert_timezone('UTC', {{ expr }}) as timestamp_ntz)
{%- endmacro -%}

{%- macro tessera_text_as_utc_timestamp(expr) -%}
    {{ return(adapter.dispatch('tessera_text_as_utc_timestamp')(expr)) }}
{%- endmacro -%}

{#- A zone only after a time of day: a date's own '-03' is not an offset, and a date alone
    read as a timestamptz would move by the session's time zone. Spaces before the zone are
    dropped, as ISO 8601 has none and DuckDB then parses nothing.
    A word after the time of day is a zone name, read only when it is one of
    tessera_zone_names() (else null, which `tessera sources check` reports): DuckDB's timestamp
    cast drops any word there (10:00 America/Chicago was 10:00 UTC), its ICU reads
    'Etc/Unknown' as UTC and abbreviations as it likes ('IST' India, 'BST' Bangladesh, 'CST'
    Chicago), and Snowflake has no TRY_ form of CONVERT_TIMEZONE and reads no abbreviation
    but the few that are zone names. The list keeps CONVERT_TIMEZONE from ever seeing another
    name: its zone is null then, and a null argument is a null result. -#}
{%- macro duckdb__tessera_text_as_utc_timestamp(expr) -%}
    {%- set time = tessera_time_of_day_pattern() -%}
    case
        when regexp_matches({{ expr }}, '{{ tessera_zoned_text_pattern() }}$')
            then timezone('UTC', try_cast(
                regexp_replace({{ expr }}, ' +([zZ]|[+-][0-9])', '\1') as timestamptz
            ))
        when regexp_matches({{ expr }}, '{{ time }} *[A-Za-z]')
            then case
                when regexp_matches({{ expr }}, '{{ time }} +[^ ]+$')
                    and regexp_extract({{ expr }}, '[^ ]+$') in ({{ tessera_zone_names() }})
                    then timezone('UTC', try_cast({{ expr }} as timestamptz))
            end
        else try_cast({{ expr }} as timestamp)
    end
{%- endmacro -%}

{%- macro default__tessera_text_as_utc_timestamp(expr) -%}
    {%- set time = tessera_time_of_day_pattern() -%}
    case
        when regexp_like({{ expr }}, '.*{{ tessera_zoned_text_pattern() }}')
            then cast(convert_timezone('UTC', try_to_timestamp_tz(
                regexp_replace({{ expr }}, ' +([zZ]|[+-][0-9])', '\\1')
            )) as timestamp_ntz)
        when regexp_like({{ expr }}, '.*{{ time }} *[A-Za-z].*')
            then convert_timezone(
                case
                    when regexp_like({{ expr }}, '.*{{ time }} +[^ ]+')
                        and regexp_substr({{ expr }}, '[^ ]+$') in ({{ tessera_zone_names() }})
                        then regexp_substr({{ expr }}, '[^ ]+$')
                end,
                'UTC',
                try_to_timestamp_ntz(regexp_replace({{ expr }}, ' +[^ ]+$', ''))
            )
        else try_to_timestamp_ntz({{ expr }})
    end
{%- endmacro -%}

{#- The tessera.sources.column_types copies must say the same as these. A time of day: -#}
{%- macro tessera_time_of_day_pattern() -%}
    [0-9]:[0-9][0-9](:[0-9][0-9]([.][0-9]*)?)?
{%- endmacro -%}

{#- a time of day, then Z or an offset (+02, +0200, +02:00), spaces allowed between -#}
{%- macro tessera_zoned_text_pattern() -%}
    {{ tessera_time_of_day_pattern() }} *([zZ]|[+-][0-9][0-9](:?[0-9][0-9])?)
{%- endmacro -%}

{#- The zone names read, quoted for an IN list: the IANA database's (names and links, as pytz
    has them; Snowflake reads those of its release 2025b, case-sensitive) of the form
    Area/Location (Etc/GMT+5 too), and UTC and GMT; no abbreviation. -#}
{%- macro tessera_zone_names() -%}
    {%- set names = [] -%}
    {%- for name in modules.pytz.all_timezones if '/' in name or name in ['UTC', 'GMT'] -%}
        {%- do names.append("'" ~ name ~ "'") -%}
    {%- endfor -%}
    {{ return(names | join(', ')) }}
{%- endmacro -%}

{%- macro tessera_conformed_column(column, contract_type) -%}
    {{ return(tessera_cast(adapter.quote(column.name), column.dtype, contract_type)) }}
{%- endmacro -%}

{%- macro tessera_conformed_select(node, relation) -%}
    {%- set present = {} -%}
    {%- for column in adapter.get_columns_in_relation(relation) -%}
        {%- do present.update({column.name | lower: column}) -%}
    {%- endfor -%}
    {%- set missing = [] -%}
    {%- set select_list = [] -%}
    {%- for name, column in node.columns.items() -%}
        {%- set contract_type = column.data_type or 'varchar' -%}
        {%- if name | lower in present -%}
            {%- do select_list.append(
                tessera_conformed_column(present[name | lower], contract_type) ~ ' as ' ~ name) -%}
        {%- elif tessera_node_meta(column).get('required') -%}
            {%- do missing.append(name) -%}
        {%- else -%}
            {%- do select_list.append('cast(null as ' ~ contract_type ~ ') as ' ~ name) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if missing -%}
        {{ exceptions.raise_compiler_error(
            "Source table " ~ relation ~ " (contract " ~ node.source_name ~ "." ~ node.name
            ~ ") lacks the required column(s) " ~ missing | join(', ') ~ ". Rename or add them "
            ~ "(a view over the table will do), or map the table with an adapter; the "
            ~ "contract: models/staging/" ~ node.source_name ~ "/_" ~ node.source_name
            ~ "__sources.yml.") }}
    {%- endif -%}
    {{ return('(select ' ~ select_list | join(', ') ~ ' from ' ~ relation ~ ')') }}
{%- endmacro -%}

{%- macro tessera_empty_relation(source_name, table_name) -%}
    {#- the contract's columns, typed, and no rows: downstream models build as for an empty
        table. At parse time the graph is not loaded yet, and nothing is run. -#}
    {%- if not execute -%}
        {{ return('(select 1 as parsing)') }}
    {%- endif -%}
    {%- set node = tessera_contract_node(source_name, table_name) -%}
    {%- set select_list = [] -%}
    {%- for name, column in node.columns.items() -%}
        {%- do select_list.append('cast(null as ' ~ (column.data_type or 'varchar') ~ ') as ' ~ name) -%}
    {%- endfor -%}
    {{ return('(select ' ~ select_list | join(', ') ~ ' where 1 = 0)') }}
{%- endmacro -%}
