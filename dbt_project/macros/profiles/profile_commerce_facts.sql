{#-
    profile_commerce_facts(incremental): the int_profile_facts CTEs of commerce, from the
    model's CTEs orders, pos_purchases, order_items and order_returns:

        placed_orders         orders not cancelled, with counts_as_revenue (not refunded)
        online_order_facts    online orders, revenue, first and last order
        store_purchase_facts  store purchases, revenue, first and last purchase
        return_facts          returns of placed orders and their amount
        category_spend, category_totals, category_facts, favourite_category
                              the categories bought (online lines and store purchases) and the
                              one with the most spend

    With incremental, a delta person's stored categories (the model's CTE previous) join the
    new spend: the favourite with its stored total, the others with an unknown one.
-#}
{%- macro profile_commerce_facts(incremental) -%}
placed_orders as {{ materialized_cte() }} (

    select
        *,
        coalesce(lower(status), '') not in ('refunded') as counts_as_revenue
    from orders
    where coalesce(lower(status), '') not in ('cancelled', 'canceled')

),

online_order_facts as (

    select
        person_id,
        count(*) as online_orders_count,
        sum(case when counts_as_revenue then total else 0 end) as online_revenue,
        min(ordered_at) as first_online_order_at,
        max(ordered_at) as last_online_order_at
    from placed_orders
    group by person_id

),

store_purchase_facts as (

    select
        person_id,
        count(*) as store_purchases_count,
        sum(coalesce(total, 0)) as store_revenue,
        min(purchased_at) as first_store_purchase_at,
        max(purchased_at) as last_store_purchase_at
    from pos_purchases
    group by person_id

),

return_facts as (

    select
        placed_orders.person_id,
        count(*) as returns_count,
        sum(coalesce(order_returns.amount, 0)) as returns_amount
    from order_returns
    inner join placed_orders on placed_orders.order_id = order_returns.order_id
    group by placed_orders.person_id

),

category_spend as (

    select
        placed_orders.person_id,
        order_items.category,
        coalesce(order_items.line_amount, 0) as amount
    from order_items
    inner join placed_orders on placed_orders.order_id = order_items.order_id
    where order_items.category is not null
    union all
    select person_id, category, coalesce(total, 0)
    from pos_purchases
    where category is not null
    {%- if incremental %}
    union all
    -- a delta person's stored categories: the favourite with its total, the others unknown
    -- (a delta never adds to them)
    select
        stored.person_id,
        stored.category,
        case when stored.category = previous.favourite_category
            then previous.favourite_category_amount end
    from ({{ profile_explode_list('previous', 'person_id', 'categories_purchased',
                                  'category') }}) as stored
    inner join previous on previous.person_id = stored.person_id
    {%- endif %}

),

category_totals as {{ materialized_cte() }} (

    select person_id, category, sum(amount) as amount
    from category_spend
    group by person_id, category

),

category_facts as (

    select
        person_id,
        {{ dbt.listagg('category', "', '", 'order by category') }} as categories_purchased,
        count(*) as categories_count
    from category_totals
    group by person_id

),

favourite_category as (

    select person_id, category as favourite_category, amount as favourite_category_amount
    from (
        select
            person_id,
            category,
            amount,
            row_number() over (
                partition by person_id order by amount desc nulls last, category
            ) as preference
        from category_totals
    ) as ranked
    where preference = 1

)
{%- endmacro -%}
