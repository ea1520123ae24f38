{#- The interaction score of each user with each product (seed 000's enrichment):
      score         = sum over the user's events on the product of w(event_type)
      decayed_score = sum of w(event_type) * 0.5 ^ (age_days / half_life_days)
    with w = var('interaction_weights') (view 1, click 2, add_to_cart 3, purchase 5: the
    embedder's profile weights), age_days the event's age at as_of, the newest event_at in
    stg_user_events (not now(): a rebuild of the same lake gives the same scores), and
    half_life_days = var('interaction_half_life_days') (7). Campaign events carry no product. -#}
{%- set weights = var('interaction_weights') %}

with as_of as (
    select max(event_at) as as_of from {{ ref('stg_user_events') }}
),

weighted as (
    select
        user_id,
        product_id,
        event_type,
        event_at,
        case event_type
            {%- for event_type, weight in weights.items() %}
            when '{{ event_type }}' then {{ weight }}
            {%- endfor %}
            else 0
        end as weight,
        epoch(as_of.as_of) - epoch(event_at) as age_s
    from {{ ref('stg_user_events') }}, as_of
    where product_id is not null
)

select
    user_id,
    product_id,
    count(*) filter (where event_type = 'view') as views,
    count(*) filter (where event_type = 'click') as clicks,
    count(*) filter (where event_type = 'add_to_cart') as add_to_carts,
    count(*) filter (where event_type = 'purchase') as purchases,
    sum(weight) as score,
    sum(weight * pow(0.5, age_s / ({{ var('interaction_half_life_days') }} * 86400.0))) as decayed_score,
    max(event_at) as last_interaction_at
from weighted
group by user_id, product_id
