{#- Per day (a session's start date): sessions that viewed, carted and purchased, and the step
    rates. Incremental by date_key. -#}
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='date_key') }}
{%- set since = incremental_since() %}

with daily as (
    select
        date_key,
        count(*) filter (where views > 0) as viewed_sessions,
        count(*) filter (where add_to_carts > 0) as carted_sessions,
        count(*) filter (where purchases > 0) as purchased_sessions,
        count(*) as sessions
    from {{ ref('int_sessions') }}
    {%- if since is not none %}
    where date_key >= date '{{ since }}'
    {%- endif %}
    group by date_key
)

select
    date_key,
    viewed_sessions,
    carted_sessions,
    purchased_sessions,
    sessions,
    carted_sessions / nullif(viewed_sessions, 0) as view_to_cart_rate,
    purchased_sessions / nullif(carted_sessions, 0) as cart_to_purchase_rate
from daily
