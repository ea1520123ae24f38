{#- One row per user seen in user events or chat messages. -#}
with events as (
    select
        user_id,
        min(event_at) as first_event_at,
        max(event_at) as last_event_at,
        count(distinct session_id) as sessions,
        count(*) as events,
        count(*) filter (where event_type = 'purchase') as purchases,
        coalesce(sum(price * quantity) filter (where event_type = 'purchase'), 0) as revenue,
        arg_max(device, event_at) filter (where device is not null) as last_device
    from {{ ref('stg_user_events') }}
    group by user_id
),

chats as (
    select
        user_id,
        min(event_at) as first_chat_at,
        max(event_at) as last_chat_at,
        count(*) as chat_messages
    from {{ ref('stg_chat_messages') }}
    group by user_id
)

select
    coalesce(events.user_id, chats.user_id) as user_id,
    least(first_event_at, first_chat_at) as first_seen_at,
    greatest(last_event_at, last_chat_at) as last_seen_at,
    coalesce(sessions, 0) as sessions,
    coalesce(events, 0) as events,
    coalesce(purchases, 0) as purchases,
    coalesce(revenue, 0) as revenue,
    last_device,
    coalesce(chat_messages, 0) as chat_messages
from events
full outer join chats on events.user_id = chats.user_id
