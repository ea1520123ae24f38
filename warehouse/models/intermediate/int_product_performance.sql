{#- Per product: the funnel's counts, what it sold, how many users and chats it drew. -#}
with events as (
    select
        product_id,
        count(*) filter (where event_type = 'view') as views,
        count(*) filter (where event_type = 'click') as clicks,
        count(*) filter (where event_type = 'add_to_cart') as add_to_carts,
        count(*) filter (where event_type = 'purchase') as purchases,
        coalesce(sum(quantity) filter (where event_type = 'purchase'), 0) as units_sold,
        coalesce(sum(price * quantity) filter (where event_type = 'purchase'), 0) as revenue,
        count(distinct user_id) as users,
        min(event_at) as first_event_at,
        max(event_at) as last_event_at
    from {{ ref('stg_user_events') }}
    where product_id is not null
    group by product_id
),

chats as (
    select product_id, count(*) as chat_mentions
    from {{ ref('stg_chat_messages') }}
    where product_id is not null
    group by product_id
)

select
    coalesce(events.product_id, chats.product_id) as product_id,
    coalesce(views, 0) as views,
    coalesce(clicks, 0) as clicks,
    coalesce(add_to_carts, 0) as add_to_carts,
    coalesce(purchases, 0) as purchases,
    coalesce(units_sold, 0) as units_sold,
    coalesce(revenue, 0) as revenue,
    coalesce(users, 0) as users,
    coalesce(chat_mentions, 0) as chat_mentions,
    purchases / nullif(views, 0) as view_to_purchase_rate,
    first_event_at,
    last_event_at
from events
full outer join chats on events.product_id = chats.product_id
