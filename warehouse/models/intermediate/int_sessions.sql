{#- One row per session: when, who, on which device, how far down the funnel it went and what
    it bought. A session's date is the (UTC) date it started. -#}
select
    session_id,
    any_value(user_id) as user_id,
    min(date_key) as date_key,
    min(event_at) as started_at,
    max(event_at) as ended_at,
    datediff('second', min(event_at), max(event_at)) as duration_s,
    arg_max(device, event_at) filter (where device is not null) as device,
    any_value(campaign_id) filter (where campaign_id is not null) as campaign_id,
    count(*) as events,
    count(*) filter (where event_type = 'view') as views,
    count(*) filter (where event_type = 'click') as clicks,
    count(*) filter (where event_type = 'add_to_cart') as add_to_carts,
    count(*) filter (where event_type = 'purchase') as purchases,
    coalesce(sum(quantity) filter (where event_type = 'purchase'), 0) as units,
    coalesce(sum(price * quantity) filter (where event_type = 'purchase'), 0) as revenue,
    case
        when count(*) filter (where event_type = 'purchase') > 0 then 'purchased'
        when count(*) filter (where event_type = 'add_to_cart') > 0 then 'carted'
        when count(*) filter (where event_type = 'click') > 0 then 'clicked'
        when count(*) filter (where event_type = 'view') > 0 then 'viewed'
        else 'campaign_only'
    end as furthest_stage
from {{ ref('stg_user_events') }}
group by session_id
