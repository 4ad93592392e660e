{#-
    identity_agglomerate(config, limited, split_components): split the components of
    identity_split_components into persons that keep var identity_person_limits.

    Reads the session tables identity_region_nodes (node_key, id_type, group_key,
    component_key) and identity_region_edges; writes tessera_agg_nodes (node_key,
    cluster_key) for the nodes of those components and tessera_agg_cuts (src_key, dst_key,
    reason, detail, component_key) for every edge it refuses. Returns {rounds, cuts}.

    Persons grow along their strongest edges, in parallel rounds, as the best identity
    products do it (Segment Unify's limits and priority): edges are ranked by class (one
    mailbox, then strong-strong, then device/cookie-strong, then device-cookie), then by
    evidence (number of sources, records), then by age, then by key. First, contested
    identifiers lose their one-off links (_identity_cut_contested: a house card seen once
    each with three persons joins none of them). Every cluster starts as
    a node, or as its strong group where that group keeps every limit. Each round every
    cluster picks its best edge; a cluster joins the other end when that cluster ranks above
    it (highest-priority identifier type, then more strong identifiers, then size, then key)
    and does not itself join elsewhere this round. A join that would give the person more
    identifiers of a type than its limit, or (weak_ids_join_persons false) join two persons
    with strong identifiers through a device or cookie, is refused: every edge between the
    two clusters is cut and audited; so is a one-record join that would give an established
    person a second email, phone or card while the first is in use (their sightings overlap:
    a gift recipient's phone on one order), unless the two are a typo apart. Joins into one
    cluster are admitted in edge rank order while the limits hold; the rest wait a round. The globally best remaining edge is decided
    every round, so the loop ends; after var identity_max_agglomeration_rounds the remaining
    links are cut (reason unresolved) rather than merged. Decisions depend only on a
    component's own nodes and edges, so full and incremental builds decide alike.
-#}
{%- macro identity_agglomerate(config, limited, split_components) -%}
    {%- set create = "create or replace temporary table " -%}
    {%- set strong_list = "'" ~ config.strong_id_types | join("', '") ~ "'" -%}
    {%- set priority_case -%}
        case id_type
            {%- for id_type in config.id_priority %}
            when '{{ id_type }}' then {{ loop.index }}
            {%- endfor %}
        end
    {%- endset -%}
    {%- do run_query(create ~ "tessera_agg_cuts as
        select cast(null as varchar) as src_key, cast(null as varchar) as dst_key,
            cast(null as varchar) as reason, cast(null as varchar) as detail,
            cast(null as varchar) as component_key
        where 1 = 0") -%}
    {%- if split_components == 0 -%}
        {%- do run_query(create ~ "tessera_agg_nodes as
            select cast(null as varchar) as node_key, cast(null as varchar) as cluster_key
            where 1 = 0") -%}
        {{ return({'rounds': 0, 'cuts': 0}) }}
    {%- endif -%}

    {#- initial clusters: a strong group that keeps every limit, else the node alone -#}
    {%- do run_query(create ~ "tessera_agg_groups_ok as
        select n.group_key
        from identity_region_nodes n
        join identity_split_components c on c.component_key = n.component_key
        where n.id_type in (" ~ strong_list ~ ")
        group by n.group_key
        having not (false " ~ _identity_over_limits_sql(limited, 'count') ~ ")") -%}
    {%- do run_query(create ~ "tessera_agg_nodes as
        with group_strength as (
            select group_key, sum(limit_weight) as strength
            from identity_region_nodes
            where id_type in (" ~ strong_list ~ ")
            group by group_key
        ),
        sightings as (
            select node_key, min(first_seen_at) as first_seen_at,
                max(last_seen_at) as last_seen_at
            from (
                select src_key as node_key, first_seen_at, last_seen_at
                from identity_region_edges
                union all
                select dst_key, first_seen_at, last_seen_at from identity_region_edges
            ) ends
            group by node_key
        )
        select
            n.node_key,
            n.id_type,
            n.component_key,
            n.group_key,
            n.limit_weight,
            case when n.id_type in (" ~ strong_list ~ ") then s.strength else 0 end
                as group_strength,
            " ~ priority_case ~ " as priority,
            case when n.id_type in (" ~ strong_list ~ ") then 1 else 0 end as is_strong,
            case when g.group_key is not null and n.id_type in (" ~ strong_list ~ ")
                then n.group_key else n.node_key end as cluster_key,
            t.first_seen_at,
            t.last_seen_at
        from identity_region_nodes n
        left join sightings t on t.node_key = n.node_key
        join identity_split_components c on c.component_key = n.component_key
        left join tessera_agg_groups_ok g on g.group_key = n.group_key
        left join group_strength s on s.group_key = n.group_key") -%}
    {%- do run_query("drop table if exists tessera_agg_groups_ok") -%}
    {#- ranked edges, stored in both directions -#}
    {%- do run_query(create ~ "tessera_agg_ranked as
        select
            e.src_key, e.dst_key, e.edge_class, e.record_count, e.source_count,
            case when e.account_asserted then 1 else 0 end as exclusive,
            row_number() over (
                order by e.edge_class, e.source_count desc, e.record_count desc,
                    e.first_seen_at, e.last_seen_at desc, e.src_key, e.dst_key
            ) as edge_rank
        from identity_region_edges e
        join tessera_agg_nodes n on n.node_key = e.src_key") -%}
    {%- do run_query(create ~ "tessera_agg_edges as
        select src_key as a_key, dst_key as b_key, edge_class, record_count, source_count,
            exclusive, edge_rank
        from tessera_agg_ranked
        union all
        select dst_key, src_key, edge_class, record_count, source_count, exclusive, edge_rank
        from tessera_agg_ranked") -%}
    {%- do run_query("drop table if exists tessera_agg_ranked") -%}
    {%- do _identity_cut_contested(config) -%}

    {%- set state = {'rounds': 0, 'done': false} -%}
    {%- set max_rounds = config.max_agglomeration_rounds | int -%}
    {%- for round in range(1, max_rounds + 1) -%}
        {%- if not state.done -%}
            {%- do run_query(create ~ "tessera_agg_pairs as
                select na.cluster_key as a, nb.cluster_key as b, min(e.edge_rank) as edge_rank,
                    min(e.edge_class) as edge_class,
                    min(e.edge_class) = 0 or sum(e.record_count) >= 2 or max(e.source_count) >= 2
                        as corroborated,
                    max(e.exclusive) = 1 as exclusive
                from tessera_agg_edges e
                join tessera_agg_nodes na on na.node_key = e.a_key
                join tessera_agg_nodes nb on nb.node_key = e.b_key
                where na.cluster_key <> nb.cluster_key
                group by na.cluster_key, nb.cluster_key") -%}
            {%- set pairs = run_query("select count(*) from tessera_agg_pairs").columns[0].values()[0] | int -%}
            {%- if pairs == 0 -%}
                {%- do state.update({'done': true}) -%}
            {%- else -%}
                {%- do state.update({'rounds': round}) -%}
                {%- do _identity_agglomeration_round(config, limited) -%}
            {%- endif -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if not state.done -%}
        {#- still linked after the last round: cut rather than merge -#}
        {%- do run_query(create ~ "tessera_agg_pairs as
            select na.cluster_key as a, nb.cluster_key as b
            from tessera_agg_edges e
            join tessera_agg_nodes na on na.node_key = e.a_key
            join tessera_agg_nodes nb on nb.node_key = e.b_key
            where na.cluster_key <> nb.cluster_key
            group by na.cluster_key, nb.cluster_key") -%}
        {%- do run_query("insert into tessera_agg_cuts
            select e.a_key, e.b_key, 'unresolved',
                'still linked to another person after " ~ max_rounds ~ " rounds '
                    || '(var identity_max_agglomeration_rounds): not merged', na.component_key
            from tessera_agg_edges e
            join tessera_agg_nodes na on na.node_key = e.a_key
            join tessera_agg_nodes nb on nb.node_key = e.b_key
            where na.cluster_key <> nb.cluster_key and e.a_key < e.b_key") -%}
    {%- endif -%}
    {%- for name in ['tessera_agg_pairs', 'tessera_agg_edges', 'tessera_agg_stats',
                     'tessera_agg_decisions'] -%}
        {%- do run_query("drop table if exists " ~ name) -%}
    {%- endfor -%}
    {%- set cuts = run_query("select count(*) from tessera_agg_cuts").columns[0].values()[0] | int -%}
    {{ return({'rounds': state.rounds, 'cuts': cuts}) }}
{%- endmacro -%}


{%- macro _identity_agglomeration_round(config, limited) -%}
    {%- set create = "create or replace temporary table " -%}
    {%- set weak_join_refused = not config.weak_ids_join_persons -%}
    {%- set strong_list = "'" ~ config.strong_id_types | join("', '") ~ "'" -%}
    {#- cluster facts and rank -#}
    {%- set stats_sql -%}
        select
            cluster_key,
            sum(is_strong) as strong_count,
            sum(is_strong * limit_weight) as strong_weight,
            max(group_strength) as established,
            {%- for id_type, limit in limited %}
            sum(case when id_type = '{{ id_type }}' then limit_weight else 0 end)
                as n_{{ id_type }},
            {%- endfor %}
            row_number() over (
                order by min(priority), sum(is_strong) desc, count(*) desc, cluster_key
            ) as cluster_rank
        from tessera_agg_nodes
        group by cluster_key
    {%- endset -%}
    {%- do run_query(create ~ "tessera_agg_stats as " ~ stats_sql) -%}
    {#- each cluster's best edge; a join goes up the cluster ranking, into a cluster that does
        not itself join elsewhere this round -#}
    {%- set decisions_sql -%}
        with best as (
            select a, b, edge_rank, edge_class, corroborated, exclusive
            from (
                select *, row_number() over (partition by a order by edge_rank) as pick
                from tessera_agg_pairs
            ) ranked
            where pick = 1
        ),
        hooks as (
            select best.*
            from best
            join tessera_agg_stats sa on sa.cluster_key = best.a
            join tessera_agg_stats sb on sb.cluster_key = best.b
            where sb.cluster_rank < sa.cluster_rank
        ),
        {%- set typos_join = weak_join_refused and config.typos_join %}
        {%- if typos_join %}
        {#- two persons a device or cookie would join, holding addresses a typo apart
            (robert@ / robret@, yahoo.com / yahoo.con) or one national number under two
            country codes (+44 7524 175192 / +1 752-417-5192: a number written without its
            country, read in the shipping country): one person -#}
        typos as (
            select distinct h.a, h.b
            from hooks h
            join tessera_agg_nodes x
                on x.cluster_key = h.a
                and x.id_type in ('email', 'phone')
            join tessera_agg_nodes y
                on y.cluster_key = h.b
                and y.id_type = x.id_type
            where h.edge_class >= 2
                and (
                    (x.id_type = 'email'
                        and length(x.node_key) >= {{ 6 + config.email_typo_min_length }}
                        and abs(length(x.node_key) - length(y.node_key)) <= 2
                        and {{ identity_edit_distance('x.node_key', 'y.node_key') }} <= 2
                        and (
                            split_part(x.node_key, '@', 1) = split_part(y.node_key, '@', 1)
                            or (split_part(x.node_key, '@', 2) = split_part(y.node_key, '@', 2)
                                and length(x.node_key) <> length(y.node_key)
                                and {{ identity_digits("split_part(x.node_key, '@', 1)") }}
                                    = {{ identity_digits("split_part(y.node_key, '@', 1)") }})
                        ))
                    {#- 'phone:+' and at least 10 digits on both sides -#}
                    or (x.id_type = 'phone'
                        and length(x.node_key) >= 17
                        and length(y.node_key) >= 17
                        and right(x.node_key, 10) = right(y.node_key, 10))
                )
        ),
        {%- endif %}
        eligible as (
            select
                h.*,
                case
                    {%- if weak_join_refused %}
                    when h.edge_class >= 2 and sa.strong_count > 0 and sb.strong_count > 0
                        {%- if typos_join %}
                        and not exists (select 1 from typos t where t.a = h.a and t.b = h.b)
                        {%- endif %}
                        then 'weak_join'
                    {%- endif %}
                    {%- for id_type, limit in limited %}
                    when sa.n_{{ id_type }} + sb.n_{{ id_type }} > {{ limit }}
                        then 'limit_{{ id_type }}'
                    {%- endfor %}
                    {%- if config.corroborate_joins %}
                    when h.edge_class = 1 and not h.corroborated and not h.exclusive
                        and sa.established >= 2 and sb.established >= 2
                        then 'uncorroborated'
                    when h.edge_class = 1 and not h.corroborated and not h.exclusive
                        and greatest(sa.established, sb.established) >= 2
                        and exists (
                            select 1
                            from tessera_agg_nodes x
                            join tessera_agg_nodes y
                                on y.cluster_key = h.b
                                and y.id_type = x.id_type
                            where x.cluster_key = h.a
                                and x.id_type in ({{ strong_list }})
                                and x.limit_weight = 1 and y.limit_weight = 1
                                and x.first_seen_at < y.last_seen_at
                                and y.first_seen_at < x.last_seen_at
                                and not (abs(length(x.node_key) - length(y.node_key)) <= 2
                                    and {{ identity_edit_distance('x.node_key', 'y.node_key') }} <= 2)
                        )
                        then 'concurrent'
                    {%- endif %}
                end as refused
            from hooks h
            join tessera_agg_stats sa on sa.cluster_key = h.a
            join tessera_agg_stats sb on sb.cluster_key = h.b
            where h.b not in (select a from hooks)
        ),
        admitted as (
            select
                e.a, e.b, e.edge_rank, e.refused
                {%- for id_type, limit in limited %}
                , sb.n_{{ id_type }} + sum(
                    case when e.refused is null then sa.n_{{ id_type }} else 0 end
                ) over (
                    partition by e.b order by e.edge_rank
                    rows between unbounded preceding and current row
                ) as cum_{{ id_type }}
                {%- endfor %}
            from eligible e
            join tessera_agg_stats sa on sa.cluster_key = e.a
            join tessera_agg_stats sb on sb.cluster_key = e.b
        )
        select
            a,
            b,
            refused,
            refused is null
            {%- for id_type, limit in limited %}
                and cum_{{ id_type }} <= {{ limit }}
            {%- endfor %} as accepted
        from admitted
    {%- endset -%}
    {%- do run_query(create ~ "tessera_agg_decisions as " ~ decisions_sql) -%}
    {#- refused joins: cut, and audit, every edge between the two clusters. The few refused
        joins get their reasons first, on their own, so the statement that finds their edges
        joins one small table to the nodes and edges: as one five-way join it failed in two
        2M-person builds with DuckDB 2.0's internal error "dict-surviving join: narrowed
        column received a non-dictionary chunk" (duckdb#24807, open) -#}
    {%- set refused_sql -%}
        select
            d.a,
            d.b,
            case
                when d.refused in ('weak_join', 'uncorroborated') then d.refused
                when d.refused = 'concurrent' then 'uncorroborated'
                else 'person_limit'
            end as reason,
            case
                when d.refused = 'weak_join'
                    then 'a device or cookie would join two persons that their strong '
                        || 'identifiers keep apart (var identity_weak_ids_join_persons)'
                when d.refused = 'uncorroborated'
                    then 'one record of one source would join two persons whose own '
                        || 'records link ' || cast(sa.established as varchar) || ' and '
                        || cast(sb.established as varchar)
                        || ' strong identifiers (var identity_corroborate_joins)'
                when d.refused = 'concurrent'
                    then 'one record of one source would give a person a second identifier '
                        || 'of a type whose first is in use at the same time (var '
                        || 'identity_corroborate_joins)'
                {%- for id_type, limit in limited %}
                when d.refused = 'limit_{{ id_type }}'
                    then 'would give one person '
                        || cast(sa.n_{{ id_type }} + sb.n_{{ id_type }} as varchar)
                        || ' {{ id_type }} (var identity_person_limits: {{ limit }})'
                {%- endfor %}
            end as detail
        from tessera_agg_decisions d
        join tessera_agg_stats sa on sa.cluster_key = d.a
        join tessera_agg_stats sb on sb.cluster_key = d.b
        where d.refused is not null
    {%- endset -%}
    {%- do run_query(create ~ "tessera_agg_refused as " ~ refused_sql) -%}
    {%- do run_query(create ~ "tessera_agg_round_cuts as
        select
            e.a_key as src_key,
            e.b_key as dst_key,
            r.reason,
            r.detail,
            na.component_key
        from tessera_agg_refused r
        join tessera_agg_nodes na on na.cluster_key = r.a
        join tessera_agg_edges e on e.a_key = na.node_key
        join tessera_agg_nodes nb on nb.node_key = e.b_key and nb.cluster_key = r.b") -%}
    {%- do run_query("drop table if exists tessera_agg_refused") -%}
    {%- do run_query("insert into tessera_agg_cuts select * from tessera_agg_round_cuts") -%}
    {#- the cut edges leave the graph, in both directions: a few per refused join, where
        rebuilding the edges would join every one of them to its clusters again -#}
    {%- do run_query("delete from tessera_agg_edges
        using (
            select src_key, dst_key from tessera_agg_round_cuts
            union all
            select dst_key, src_key from tessera_agg_round_cuts
        ) as cut
        where tessera_agg_edges.a_key = cut.src_key and tessera_agg_edges.b_key = cut.dst_key") -%}
    {%- do run_query("drop table if exists tessera_agg_round_cuts") -%}
    {#- accepted joins -#}
    {%- do run_query(create ~ "tessera_agg_nodes as
        select
            n.node_key, n.id_type, n.component_key, n.group_key, n.limit_weight,
            n.group_strength,
            n.priority, n.is_strong,
            coalesce(d.b, n.cluster_key) as cluster_key,
            n.first_seen_at, n.last_seen_at
        from tessera_agg_nodes n
        left join tessera_agg_decisions d on d.a = n.cluster_key and d.accepted") -%}
{%- endmacro -%}


{%- macro _identity_cut_contested(config) -%}
    {#- A strong identifier with no corroborated link of its own (its strong group is itself)
        whose one-off links (one record, one source, no account identifier) reach the strong
        groups of var identity_contested_min_persons or more persons is contested: a store's
        house card scanned for customers without one, a card passed around a family, a
        number typed for strangers. It is attached to none of them: every such link is cut
        and audited (reason contested). Before any join, from the component's own edges, so
        full and incremental builds decide alike. -#}
    {%- set min_persons = config.contested_min_persons -%}
    {%- if min_persons is none -%}
        {{ return('') }}
    {%- endif -%}
    {%- set one_off = "e.edge_class = 1 and e.record_count < 2 and e.source_count < 2
        and e.exclusive = 0" -%}
    {#- a reached identifier a typo away from another reached one (robert@ / robret@, one
        digit of a phone) is the same person's, not another person: its group is not counted -#}
    {#- the one-off links of candidates only (reaching enough groups before typos are
        discounted): the typo comparison below is pairwise per candidate -#}
    {%- do run_query("create or replace temporary table tessera_agg_one_off as
        select e.a_key, e.b_key, nb.group_key as b_group
        from tessera_agg_edges e
        join tessera_agg_nodes na on na.node_key = e.a_key
        join tessera_agg_nodes nb on nb.node_key = e.b_key
        where " ~ one_off ~ "
            and na.group_strength <= 1
            and nb.group_key <> na.group_key
            and e.a_key in (
                select x.a_key
                from tessera_agg_edges x
                join tessera_agg_nodes xa on xa.node_key = x.a_key
                join tessera_agg_nodes xb on xb.node_key = x.b_key
                where " ~ one_off | replace('e.', 'x.') ~ "
                    and xa.group_strength <= 1
                    and xb.group_key <> xa.group_key
                group by x.a_key
                having count(distinct xb.group_key) >= " ~ min_persons ~ "
            )") -%}
    {#- a reached identifier a typo away from another reached one (robert@ / robret@, one
        digit of a phone) is the same person's, not another person: its group is not counted -#}
    {%- do run_query("create or replace temporary table tessera_agg_contested as
        with near as (
            select distinct x.a_key, x.b_group
            from tessera_agg_one_off x
            join tessera_agg_one_off y
                on y.a_key = x.a_key
                and y.b_group < x.b_group
                and split_part(y.b_key, ':', 1) = split_part(x.b_key, ':', 1)
                and abs(length(y.b_key) - length(x.b_key)) <= 2
            where " ~ identity_edit_distance('x.b_key', 'y.b_key') ~ " <= 2
        ),
        persons as (
            select o.a_key, count(distinct o.b_group) as persons
            from tessera_agg_one_off o
            left join near n on n.a_key = o.a_key and n.b_group = o.b_group
            where n.b_group is null
            group by o.a_key
        )
        select a_key, persons
        from persons
        where persons >= " ~ min_persons) -%}
    {%- do run_query("drop table if exists tessera_agg_one_off") -%}
    {%- do run_query("insert into tessera_agg_cuts
        select
            e.a_key,
            e.b_key,
            'contested',
            e.a_key || ' is seen once each with the strong identifiers of '
                || cast(c.persons as varchar) || ' persons and never twice with any '
                || '(var identity_contested_min_persons: " ~ min_persons ~ "): a shared '
                || 'identifier, attached to none of them',
            na.component_key
        from tessera_agg_edges e
        join tessera_agg_contested c on c.a_key = e.a_key
        join tessera_agg_nodes na on na.node_key = e.a_key
        left join tessera_agg_contested other on other.a_key = e.b_key
        where " ~ one_off ~ "
            and (other.a_key is null or e.a_key < e.b_key)") -%}
    {%- do run_query("create or replace temporary table tessera_agg_edges as
        select e.*
        from tessera_agg_edges e
        where not (" ~ one_off ~ "
            and (e.a_key in (select a_key from tessera_agg_contested)
                or e.b_key in (select a_key from tessera_agg_contested)))") -%}
    {%- do run_query("drop table if exists tessera_agg_contested") -%}
{%- endmacro -%}
