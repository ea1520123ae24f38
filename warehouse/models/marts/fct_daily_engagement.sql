{#- Per day and event type: events, distinct users and sessions. Incremental by date_key. -#}
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='date_key') }}
{%- set since = incremental_since() %}

select
    date_key,
    event_type,
    count(*) as events,
    count(distinct user_id) as users,
    count(distinct session_id) as sessions
from {{ ref('stg_user_events') }}
{%- if since is not none %}
where date_key >= date '{{ since }}'
{%- endif %}
group by date_key, event_type
