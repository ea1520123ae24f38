{#- Per day and sensor: readings and their min, mean and max. Incremental by date_key. -#}
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='date_key') }}
{%- set since = incremental_since() %}

select
    date_key,
    sensor_id,
    any_value(sensor_type) as sensor_type,
    any_value(location) as location,
    any_value(unit) as unit,
    count(*) as readings,
    min(value) as min_value,
    avg(value) as avg_value,
    max(value) as max_value
from {{ ref('stg_sensor_readings') }}
{%- if since is not none %}
where date_key >= date '{{ since }}'
{%- endif %}
group by date_key, sensor_id
