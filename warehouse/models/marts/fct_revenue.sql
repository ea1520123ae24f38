{#- The sales fact: one row per purchase event. Incremental by date_key. -#}
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='date_key') }}
{%- set since = incremental_since() %}

select
    event_id,
    date_key,
    event_at,
    user_id,
    session_id,
    product_id,
    campaign_id,
    device,
    quantity,
    price as unit_price,
    price * quantity as revenue
from {{ ref('stg_user_events') }}
where event_type = 'purchase'
{%- if since is not none %}
    and date_key >= date '{{ since }}'
{%- endif %}
