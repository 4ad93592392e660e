{#-
    Where each contract source comes from: var tessera_sources (dbt_project.yml), read here.

    tessera_sources.<source>:
      enabled    auto (default) | true | false
      database   default: the target's database
      schema     default: raw (for an adapter: the loader's schema)
      tables     {contract or loader table name: the table's name in the warehouse}
      adapter    segment (alias rudderstack) | shopify_fivetran | hubspot: read the loader's
                 schema through that adapter; none: only the contract's own tables. Left out,
                 a source that is not off and has no contract tables is looked for in the
                 loaders' shapes (tessera_discover_adapter), so a warehouse that holds a
                 Segment schema and Fivetran's Shopify tables builds without any setting.
    Python reads the same var with the same defaults (tessera/sources/config.py).
-#}

{%- macro tessera_adapters() -%}
    {#- adapter -> the contract source it feeds, the contract tables its models provide
        (models/adapters/<adapter>/adapter_<adapter>__<table>, ephemeral), its dbt source, and
        the signature that finds its schema: tables (`any`: one of them is enough, else all)
        holding one of `columns` -#}
    {{ return({
        'segment': {
            'source': 'segment', 'tables': ['events'], 'dbt_source': 'segment_warehouse',
            'signature': {'tables': ['tracks', 'pages', 'identifies'], 'any': true,
                          'columns': ['anonymous_id']}},
        'shopify_fivetran': {
            'source': 'shop', 'tables': ['orders', 'order_items', 'returns', 'customers'],
            'dbt_source': 'shopify_fivetran',
            'signature': {'tables': ['order', 'order_line'], 'any': false,
                          'columns': ['_fivetran_synced']}},
        'hubspot': {
            'source': 'crm', 'tables': ['crm_contacts'], 'dbt_source': 'hubspot',
            'signature': {'tables': ['contact', 'contacts'], 'any': true,
                          'columns': ['property_email', 'properties_email']}},
    }) }}
{%- endmacro -%}

{%- macro tessera_adapter_aliases() -%}
    {#- RudderStack writes Segment's warehouse schema -#}
    {{ return({'rudderstack': 'segment'}) }}
{%- endmacro -%}

{%- macro tessera_source_config(source_name) -%}
    {%- set all = var('tessera_sources', {}) or {} -%}
    {%- if all is not mapping -%}
        {{ exceptions.raise_compiler_error(
            "var tessera_sources must be a mapping of source name to settings, got: " ~ all) }}
    {%- endif -%}
    {%- set raw = all.get(source_name) or {} -%}
    {%- if raw is not mapping -%}
        {{ exceptions.raise_compiler_error(
            "var tessera_sources." ~ source_name ~ " must be a mapping (enabled, database, "
            ~ "schema, tables, adapter), got: " ~ raw) }}
    {%- endif -%}
    {%- set flag = raw.get('enabled', 'auto') | string | lower -%}
    {%- if flag in ['true', 'on', 'yes'] -%}
        {%- set enabled = 'on' -%}
    {%- elif flag in ['false', 'off', 'no'] -%}
        {%- set enabled = 'off' -%}
    {%- elif flag in ['auto', 'none'] -%}
        {%- set enabled = 'auto' -%}
    {%- else -%}
        {{ exceptions.raise_compiler_error(
            "var tessera_sources." ~ source_name ~ ".enabled must be auto, true or false, got '"
            ~ raw.get('enabled') ~ "'") }}
    {%- endif -%}
    {%- set known = tessera_adapters() -%}
    {%- set adapter_name = raw.get('adapter') -%}
    {%- set discover = 'adapter' not in raw -%}
    {%- if adapter_name | string | lower in ['none', 'raw', 'false', ''] -%}
        {%- set adapter_name = none -%}
    {%- else -%}
        {%- set adapter_name = tessera_adapter_aliases().get(adapter_name, adapter_name) -%}
        {%- if adapter_name not in known -%}
            {{ exceptions.raise_compiler_error(
                "var tessera_sources." ~ source_name ~ ".adapter '" ~ raw.get('adapter')
                ~ "' is not an adapter; choose one of " ~ (known.keys() | list
                + tessera_adapter_aliases().keys() | list) | join(', ') ~ ", or none") }}
        {%- endif -%}
        {%- if known[adapter_name].source != source_name -%}
            {{ exceptions.raise_compiler_error(
                "var tessera_sources." ~ source_name ~ ".adapter: adapter '" ~ adapter_name
                ~ "' maps into source '" ~ known[adapter_name].source ~ "', not '"
                ~ source_name ~ "'") }}
        {%- endif -%}
    {%- endif -%}
    {%- set tables = raw.get('tables') or {} -%}
    {%- if tables is not mapping -%}
        {{ exceptions.raise_compiler_error(
            "var tessera_sources." ~ source_name ~ ".tables must map table names to your "
            ~ "table names, got: " ~ tables) }}
    {%- endif -%}
    {%- set candidates = [] -%}
    {%- for name, spec in known.items() -%}
        {%- if spec.source == source_name
               and (name == adapter_name or (discover and enabled != 'off')) -%}
            {%- do candidates.append(name) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return({
        'name': source_name,
        'enabled': enabled,
        'database': raw.get('database') or target.database,
        'schema': raw.get('schema'),
        'tables': tables,
        'adapter': adapter_name,
        'discover': discover and enabled != 'off',
        'adapters': candidates if enabled != 'off' else [],
        'settings': raw,
    }) }}
{%- endmacro -%}

{%- macro tessera_adapter_enabled(adapter_name) -%}
    {#- for config(enabled=...) of an adapter's models: its source names it, or may discover it -#}
    {%- set cfg = tessera_source_config(tessera_adapters()[adapter_name].source) -%}
    {{ return(adapter_name in cfg.adapters) }}
{%- endmacro -%}

{%- macro tessera_adapter_setting(adapter_name, key, default) -%}
    {#- an adapter's own option from the settings of the source it feeds -#}
    {%- set value = tessera_source_config(tessera_adapters()[adapter_name].source)
        .settings.get(key) -%}
    {{ return(default if value is none else value) }}
{%- endmacro -%}

{%- macro tessera_discover_adapter(adapter_name) -%}
    {#- where the loader's tables are, at build time: {'database', 'schema', 'tables':
        {loader table: its name}} or none. Named by the settings (adapter: ...), that is the
        configured schema; otherwise the schemas of the configured database whose tables
        match the adapter's signature, when exactly one does. -#}
    {%- set spec = tessera_adapters()[adapter_name] -%}
    {%- set cfg = tessera_source_config(spec.source) -%}
    {%- if not execute or adapter_name not in cfg.adapters -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set signature = spec.signature -%}
    {%- set names = [] -%}
    {%- for table in signature.tables -%}
        {%- do names.append((cfg.tables.get(table) or table) | lower) -%}
    {%- endfor -%}
    {%- set query -%}
        select distinct lower(table_schema) as table_schema, lower(table_name) as table_name
        from {{ tessera_information_schema(cfg.database) }}.columns
        where lower(table_name) in ('{{ names | join("', '") }}')
            and lower(column_name) in ('{{ signature.columns | join("', '") }}')
            {%- if cfg.schema %}
            and lower(table_schema) = '{{ cfg.schema | lower }}'
            {%- endif %}
            {{ tessera_information_schema_catalog_filter(cfg.database) }}
    {%- endset -%}
    {%- set found = {} -%}
    {%- for row in run_query(query).rows -%}
        {%- do found.setdefault(row[0], []).append(row[1]) -%}
    {%- endfor -%}
    {%- set matches = [] -%}
    {%- for schema, tables in found.items() | sort -%}
        {%- set hits = names | select('in', tables) | list -%}
        {%- if (signature.any and hits) or (not signature.any and hits | length == names | length) -%}
            {%- do matches.append(schema) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if matches | length > 1 -%}
        {%- do exceptions.warn("adapter " ~ adapter_name ~ ": tables of its shape are in schemas "
            ~ matches | join(', ') ~ "; set var tessera_sources." ~ spec.source ~ ".schema to "
            ~ "the one to read (and adapter: " ~ adapter_name ~ "). Reading none of them.") -%}
        {{ return(none) }}
    {%- endif -%}
    {%- if not matches -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set tables = {} -%}
    {%- for table in signature.tables -%}
        {%- if (cfg.tables.get(table) or table) | lower in found[matches[0]] -%}
            {%- do tables.update({table: cfg.tables.get(table) or table}) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return({'database': cfg.database, 'schema': matches[0], 'tables': tables}) }}
{%- endmacro -%}

{%- macro tessera_information_schema(database) -%}
    {{ return(adapter.dispatch('tessera_information_schema')(database)) }}
{%- endmacro -%}

{%- macro duckdb__tessera_information_schema(database) -%}
    information_schema
{%- endmacro -%}

{%- macro default__tessera_information_schema(database) -%}
    {{ database }}.information_schema
{%- endmacro -%}

{%- macro tessera_information_schema_catalog_filter(database) -%}
    {{ return(adapter.dispatch('tessera_information_schema_catalog_filter')(database)) }}
{%- endmacro -%}

{%- macro duckdb__tessera_information_schema_catalog_filter(database) -%}
    and lower(table_catalog) = '{{ database | lower }}'
{%- endmacro -%}

{%- macro default__tessera_information_schema_catalog_filter(database) -%}
{%- endmacro -%}
