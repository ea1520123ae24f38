{#- Every calendar day from the first to the last date with an event in any stream. -#}
with bounds as (
    select min(lo) as lo, max(hi) as hi
    from (
        select min(date_key) as lo, max(date_key) as hi from {{ ref('stg_user_events') }}
        union all
        select min(date_key), max(date_key) from {{ ref('stg_sensor_readings') }}
        union all
        select min(date_key), max(date_key) from {{ ref('stg_chat_messages') }}
        union all
        select min(date_key), max(date_key) from {{ ref('stg_products') }}
    )
),

days as (
    select cast(unnest(generate_series(
        cast(lo as timestamp), cast(hi as timestamp), interval 1 day
    )) as date) as date_key
    from bounds
    where lo is not null
)

select
    date_key,
    year(date_key) as year,
    month(date_key) as month,
    day(date_key) as day,
    isodow(date_key) as day_of_week,
    dayname(date_key) as day_name,
    isodow(date_key) in (6, 7) as is_weekend
from days
