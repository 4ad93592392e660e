{#-
    Helpers for the adapter models (models/adapters/), which read a loader's tables as the
    loader really writes them: Segment creates a column only once it has seen a value for it,
    so a column the adapter knows about may be absent, and types vary by warehouse and loader.

    tessera_adapter_columns(adapter, table, found)
                                   a loader table in the schema the adapter was found in
    tessera_pick(columns, names, to_type, prefix='')
                                   the first of `names` the relation has (several: coalesced
                                   in that order), as to_type (tessera_cast); a typed null
                                   when it has none of them. prefix qualifies the column.
-#}

{%- macro tessera_pick(columns, names, to_type, prefix='') -%}
    {%- set names = [names] if names is string else names -%}
    {%- set picked = [] -%}
    {%- for name in names -%}
        {%- if columns and name | lower in columns -%}
            {%- set column = columns[name | lower] -%}
            {%- do picked.append(tessera_cast(prefix ~ adapter.quote(column.name), column.dtype,
                                              to_type)) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if not picked -%}
        {{ return('cast(null as ' ~ to_type ~ ')') }}
    {%- elif picked | length == 1 -%}
        {{ return(picked[0]) }}
    {%- else -%}
        {{ return('coalesce(' ~ picked | join(', ') ~ ')') }}
    {%- endif -%}
{%- endmacro -%}

{%- macro tessera_adapter_columns(adapter_name, table_name, found) -%}
    {#- one loader table of an adapter in the schema tessera_discover_adapter found:
        {'relation', 'columns' ({} when the table is not there), 'exists'}. While parsing it
        is the adapter's dbt source, so the lineage shows it. -#}
    {%- set spec = tessera_adapters()[adapter_name] -%}
    {%- if not execute -%}
        {{ return({'relation': source(spec.dbt_source, table_name), 'columns': {},
                   'exists': true}) }}
    {%- endif -%}
    {%- set relation = none -%}
    {%- if found is not none -%}
        {%- set cfg = tessera_source_config(spec.source) -%}
        {%- set relation = adapter.get_relation(database=found.database, schema=found.schema,
            identifier=cfg.tables.get(table_name) or table_name) -%}
    {%- endif -%}
    {%- if relation is none -%}
        {{ return({'relation': none, 'columns': {}, 'exists': false}) }}
    {%- endif -%}
    {%- set columns = {} -%}
    {%- for column in adapter.get_columns_in_relation(relation) -%}
        {%- do columns.update({column.name | lower: column}) -%}
    {%- endfor -%}
    {#- quoted as stored: loaders name tables with reserved words (Shopify's order) -#}
    {{ return({'relation': relation.quote(identifier=true), 'columns': columns,
               'exists': true}) }}
{%- endmacro -%}
