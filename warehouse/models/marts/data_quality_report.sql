{#- What the staging layer read from the lake and dropped, and why: one row per stream and
    drop reason (reason null: a stream with nothing dropped), over every partition loaded.
    rows_read = rows_kept + the stream's rows_dropped. The on-run-end hook writes it as JSON
    (macros/dq_report.sql). -#}
{%- set streams = ['sensor_readings', 'user_events', 'chat_messages', 'products'] %}

with outcomes as (
    {%- for stream in streams %}
    select '{{ stream }}' as stream, dq_reason, min(date_key) as first_date,
        max(date_key) as last_date, count(*) as rows
    from {{ ref('base_' ~ stream) }}
    group by dq_reason
    {{ 'union all' if not loop.last }}
    {%- endfor %}
),

streams as (
    select unnest([{{ sql_list(streams) }}]) as stream
),

totals as (
    select
        streams.stream,
        cast(coalesce(sum(rows), 0) as bigint) as rows_read,
        cast(coalesce(sum(rows) filter (where dq_reason is null), 0) as bigint) as rows_kept,
        min(first_date) as first_date,
        max(last_date) as last_date
    from streams
    left join outcomes on outcomes.stream = streams.stream
    group by streams.stream
),

drops as (
    select stream, dq_reason as reason, rows as rows_dropped
    from outcomes
    where dq_reason is not null
)

select
    totals.stream,
    drops.reason,
    coalesce(drops.rows_dropped, 0) as rows_dropped,
    totals.rows_read,
    totals.rows_kept,
    totals.first_date,
    totals.last_date
from totals
left join drops on drops.stream = totals.stream
where drops.reason is not null
    or not exists (select 1 from drops where drops.stream = totals.stream)
