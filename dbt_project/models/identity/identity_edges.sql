{#-
    Edges between identifiers seen on the same record, as a star: each record's usable
    identifiers link to one anchor, the record's highest-priority usable identifier (var
    identity_id_priority), never to each other. Each edge knows its evidence: the sources and
    records that carry it and when it was first and last seen.

    edge_class orders edges by what they prove, for the person limits in identity_graph:
      0  one mailbox: two spellings of an address its provider delivers to the same inbox
         (dots and +tags at gmail, googlemail.com; var identity_mailbox_rules), or a
         user id that is an address seen as an email (the user id is then that mailbox's
         alias and does not count against the person's user id limit)
      1  two strong identifiers (user_id, crm_id, email, phone, loyalty_id)
      2  a device or anonymous id and a strong identifier
      3  a device and an anonymous id
    Edges that are not used say why (cut_reason), so identity_audit can show them:
      shared_identifier  an edge a hub would have made (the hub is identity_nodes'
                         shared_identifier; it stays a node and joins no one)
      recycled           a phone or device (var identity_recyclable_id_types) seen with one
                         strong group and, more than var identity_recycle_gap_days after that
                         group's last sighting, with another: the number passed on, and its
                         edges to the earlier owner are cut
-#}
{{ config(materialized='table') }}

{%- set config = identity_config() -%}
{%- set id_types = config.id_priority -%}
{%- set strong_types = config.strong_id_types -%}
{%- set recyclable = config.recyclable_id_types -%}
{%- set mailbox = config.mailbox_rules -%}

with

valid_records as (

    select * from {{ ref('identity_records_valid') }}

),

nodes as (

    select * from {{ ref('identity_nodes') }}

),

shared_nodes as (

    select id_type, id_value
    from nodes
    where status = 'shared_identifier'

),

strong_components as (

    select * from {{ ref('identity_strong_components') }}

),

usable as (

    select
        r.record_key,
        r.source,
        r.first_seen_at,
        r.last_seen_at,
        r.record_count,
        r.identity_loaded_at,
        {%- for id_type in id_types %}
        r.{{ id_type }} as {{ id_type }}_valid,
        case when shared_{{ id_type }}.id_value is null then r.{{ id_type }} end as {{ id_type }}
        {{- ',' if not loop.last }}
        {%- endfor %}

    from valid_records r
    {%- for id_type in id_types %}
    left join shared_nodes shared_{{ id_type }}
        on shared_{{ id_type }}.id_type = '{{ id_type }}'
        and shared_{{ id_type }}.id_value = r.{{ id_type }}
    {%- endfor %}

),

anchored as (

    select
        *,
        case
            {%- for id_type in id_types %}
            when {{ id_type }} is not null then {{ identity_node_key(id_type, id_type) }}
            {%- endfor %}
        end as anchor_key,
        case
            {%- for id_type in id_types %}
            when {{ id_type }} is not null then '{{ id_type }}'
            {%- endfor %}
        end as anchor_type

    from usable

),

star_edges as (

    {%- for id_type in id_types %}
    select
        anchor_key as src_key,
        {{ identity_node_key(id_type, id_type) }} as dst_key,
        anchor_type as src_type,
        '{{ id_type }}' as dst_type,
        cast(null as varchar) as cut_reason,
        source,
        first_seen_at,
        last_seen_at,
        record_count,
        identity_loaded_at
    from anchored
    where {{ id_type }} is not null
        and {{ identity_node_key(id_type, id_type) }} <> anchor_key
    union all
    {%- endfor %}

    {# edges a shared identifier would have made to the record's anchor #}
    {%- for id_type in id_types %}
    select
        {{ identity_node_key(id_type, id_type ~ '_valid') }} as src_key,
        anchor_key as dst_key,
        '{{ id_type }}' as src_type,
        anchor_type as dst_type,
        'shared_identifier' as cut_reason,
        source,
        first_seen_at,
        last_seen_at,
        record_count,
        identity_loaded_at
    from anchored
    where {{ id_type }}_valid is not null
        and {{ id_type }} is null
        and anchor_key is not null
    {{ 'union all' if not loop.last }}
    {%- endfor %}

),

grouped as (

    select
        src_key,
        dst_key,
        min(src_type) as src_type,
        min(dst_type) as dst_type,
        cut_reason,
        {{ identity_source_set_agg('source') }},
        min(first_seen_at) as first_seen_at,
        max(last_seen_at) as last_seen_at,
        cast(sum(record_count) as bigint) as record_count,
        max(identity_loaded_at) as loaded_at

    from star_edges
    group by src_key, dst_key, cut_reason

),

aggregated as (

    select
        src_key,
        dst_key,
        src_type,
        dst_type,
        cut_reason,
        {{ identity_source_set_columns() }},
        first_seen_at,
        last_seen_at,
        record_count,
        loaded_at

    from grouped

),

{% if recyclable %}
{#- Tenures of recyclable identifiers: the strong groups each phone or device was seen with
    (the group of the strong identifier at the edge's other end), and when. -#}
recyclable_edges as (

    select
        case when src_type in ('{{ recyclable | join("', '") }}') then src_key else dst_key end
            as recycled_key,
        case when src_type in ('{{ recyclable | join("', '") }}') then dst_key else src_key end
            as owner_key,
        src_key,
        dst_key,
        first_seen_at,
        last_seen_at

    from aggregated
    where cut_reason is null
        and (
            (src_type in ('{{ recyclable | join("', '") }}')
                and dst_type in ('{{ strong_types | reject('in', recyclable) | join("', '") }}'))
            or (dst_type in ('{{ recyclable | join("', '") }}')
                and src_type in ('{{ strong_types | reject('in', recyclable) | join("', '") }}'))
        )

),

strong_components_or_self as (

    select distinct
        e.owner_key as node_key,
        coalesce(s.component_key, e.owner_key) as group_key
    from recyclable_edges e
    left join strong_components s on s.node_key = e.owner_key

),

tenures as {{ materialized_cte() }} (

    select
        e.recycled_key,
        s.group_key,
        min(e.first_seen_at) as first_seen_at,
        max(e.last_seen_at) as last_seen_at

    from recyclable_edges e
    join strong_components_or_self s on s.node_key = e.owner_key
    group by e.recycled_key, s.group_key

),

group_types as {{ materialized_cte() }} (

    select distinct s.group_key, split_part(s.node_key, ':', 1) as id_type
    from strong_components_or_self s
    union
    select distinct s.component_key, split_part(s.node_key, ':', 1)
    from strong_components s
    where s.component_key in (select group_key from strong_components_or_self)

),

{#- a later owner: first seen with the identifier more than the gap after an earlier
    owner's last sighting, and holding an identifier of a type the earlier one holds too
    (another email, another account: a different person, not the same one's next record) -#}
tenure_pairs as {{ materialized_cte() }} (

    {#- owners of one identifier in time order first (a few per phone or device), and only
        then their identifier types: joined the other way round, DuckDB may pair every group
        with every group of the same type (billions of rows at 100k persons, tens of GB
        spilled) -#}
    select
        t_old.recycled_key,
        t_old.group_key,
        t_old.last_seen_at,
        t_new.group_key as next_group_key,
        t_new.first_seen_at as next_first_seen_at

    from tenures t_old
    join tenures t_new
        on t_new.recycled_key = t_old.recycled_key
        and t_new.group_key <> t_old.group_key
        and {{ dbt.dateadd('day', config.recycle_gap_days, 't_old.last_seen_at') }}
            < t_new.first_seen_at

),

old_types as {{ materialized_cte() }} (

    select distinct p.recycled_key, p.group_key, p.next_group_key, a.id_type
    from tenure_pairs p
    join group_types a on a.group_key = p.group_key

),

{#- a later owner: first seen with the identifier more than the gap after an earlier
    owner's last sighting, and holding an identifier of a type the earlier one holds too
    (another email, another account: a different person, not the same one's next record) -#}
passed_on as (

    select distinct
        p.recycled_key,
        p.group_key,
        p.last_seen_at,
        p.next_first_seen_at

    from tenure_pairs p
    join (
        select distinct o.recycled_key, o.group_key, o.next_group_key
        from old_types o
        join group_types b on b.group_key = o.next_group_key and b.id_type = o.id_type
    ) shared
        on shared.recycled_key = p.recycled_key
        and shared.group_key = p.group_key
        and shared.next_group_key = p.next_group_key

),

recycled_edges as (

    select
        e.src_key,
        e.dst_key,
        'recycled' as cut_reason,
        e.recycled_key || ' was last seen with this owner on '
            || cast(cast(max(p.last_seen_at) as date) as varchar) || ' and from '
            || cast(cast(min(p.next_first_seen_at) as date) as varchar)
            || ' with another (var identity_recycle_gap_days: {{ config.recycle_gap_days }})'
            as cut_detail

    from recyclable_edges e
    join strong_components_or_self s on s.node_key = e.owner_key
    join passed_on p
        on p.recycled_key = e.recycled_key
        and p.group_key = s.group_key
    group by e.src_key, e.dst_key, e.recycled_key

),

{% endif %}

{% if mailbox.enabled %}
{#- Addresses of one mailbox: linked to the variant seen first (a star), never rewritten, so
    each address the person typed stays the node a destination can send to. -#}
emails as (

    select
        id_value as email,
        first_seen_at,
        loaded_at,
        {{ identity_mailbox_key('id_value', mailbox) }} as mailbox_key

    from nodes
    where id_type = 'email' and status = 'valid'

),

mailboxes as (

    select mailbox_key
    from emails
    group by mailbox_key
    having count(*) > 1 and count(*) <= {{ mailbox.get('max_variants', 5) }}

),

mailbox_variants as (

    select
        e.*,
        first_value(e.email) over (
            partition by e.mailbox_key order by e.first_seen_at, e.email
            rows between unbounded preceding and unbounded following
        ) as first_variant

    from emails e
    join mailboxes m on m.mailbox_key = e.mailbox_key

),

mailbox_edges as (

    select
        'email:' || first_variant as src_key,
        'email:' || email as dst_key,
        'email' as src_type,
        'email' as dst_type,
        cast(null as varchar) as cut_reason,
        'mailbox' as sources,
        cast(1 as bigint) as source_count,
        first_seen_at,
        first_seen_at as last_seen_at,
        cast(0 as bigint) as record_count,
        loaded_at

    from mailbox_variants
    where email <> first_variant

),
{% endif %}

{#- A user id that is an address seen as an email (an app that sends the login email as
    the user id) is that mailbox's alias: one mailbox edge, so it neither counts against
    the person's user id limit nor needs a record carrying both -#}
user_id_aliases as (

    select
        'email:' || e.id_value as src_key,
        'user_id:' || u.id_value as dst_key,
        'email' as src_type,
        'user_id' as dst_type,
        cast(null as varchar) as cut_reason,
        'mailbox' as sources,
        cast(1 as bigint) as source_count,
        least(e.first_seen_at, u.first_seen_at) as first_seen_at,
        least(e.first_seen_at, u.first_seen_at) as last_seen_at,
        cast(0 as bigint) as record_count,
        greatest(e.loaded_at, u.loaded_at) as loaded_at

    from nodes u
    join nodes e
        on e.id_type = 'email'
        and e.status = 'valid'
        and e.id_value = lower(u.id_value)
    where u.id_type = 'user_id'
        and u.status = 'valid'
        and u.id_value like '%@%'

),

all_edges as (

    select * from aggregated
    {%- if mailbox.enabled %}
    union all
    select * from mailbox_edges
    {%- endif %}
    union all
    select * from user_id_aliases

),

final as (

    select
        a.src_key,
        a.dst_key,
        case
            when a.sources = 'mailbox' then 0
            {%- set weak = identity_weak_types(config) %}
            when a.src_type in ('{{ weak | join("', '") }}')
                and a.dst_type in ('{{ weak | join("', '") }}') then 3
            when a.src_type in ('{{ weak | join("', '") }}')
                or a.dst_type in ('{{ weak | join("', '") }}') then 2
            else 1
        end as edge_class,
        {%- if recyclable %}
        coalesce(a.cut_reason, r.cut_reason) as cut_reason,
        case
            when a.cut_reason = 'shared_identifier'
                then 'not merged: ' || a.src_key || ' is a hub (identity_nodes)'
            else r.cut_detail
        end as cut_detail,
        {%- else %}
        a.cut_reason,
        case when a.cut_reason is not null
            then 'not merged: ' || a.src_key || ' is a hub (identity_nodes)' end as cut_detail,
        {%- endif %}
        coalesce(a.cut_reason, {{ 'r.cut_reason' if recyclable else 'null' }}) is not null
            as is_dropped,
        a.sources,
        a.source_count,
        a.first_seen_at,
        a.last_seen_at,
        a.record_count,
        a.loaded_at

    from all_edges a
    {%- if recyclable %}
    left join recycled_edges r
        on r.src_key = a.src_key
        and r.dst_key = a.dst_key
        and a.cut_reason is null
    {%- endif %}

)

select * from final
