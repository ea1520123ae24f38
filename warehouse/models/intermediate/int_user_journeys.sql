{#- Each user's sessions in order: the n-th session, the gap since the previous one, how far it
    went, and whether it held the user's first purchase. -#}
with sessions as (
    select
        *,
        row_number() over (partition by user_id order by started_at, session_id) as session_number,
        lag(ended_at) over (partition by user_id order by started_at, session_id) as previous_ended_at,
        sum(purchases) over (
            partition by user_id order by started_at, session_id
            rows between unbounded preceding and current row
        ) as purchases_so_far
    from {{ ref('int_sessions') }}
)

select
    user_id,
    session_id,
    session_number,
    date_key,
    started_at,
    ended_at,
    datediff('second', previous_ended_at, started_at) as seconds_since_previous_session,
    device,
    campaign_id,
    events,
    furthest_stage,
    purchases,
    revenue,
    purchases > 0 and purchases_so_far = purchases as is_first_purchase_session
from sessions
