{#- Every user event read from the lake, typed, with the reason it is dropped (null: kept).
    Incremental: a run re-reads the partitions from incremental_since() on and replaces those
    dates (a replayed copy lands in its event's own date, so the dedupe stays exact). -#}
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='date_key') }}
{%- set since = incremental_since() %}

with lake as (
    {{ lake_scan(source('lake', 'user_events'), [
        ('event_id', 'varchar'), ('event_time', 'timestamptz'), ('schema_version', 'integer'),
        ('user_id', 'varchar'), ('session_id', 'varchar'), ('event_type', 'varchar'),
        ('product_id', 'varchar'), ('campaign_id', 'varchar'), ('price', 'double'),
        ('quantity', 'integer'), ('device', 'varchar'),
        ('kafka_topic', 'varchar'), ('kafka_partition', 'integer'), ('kafka_offset', 'bigint'),
    ], since) }}
),

checked as (
    select
        *,
        {{ first_failed([
            ('null_required_field', 'event_id is null or event_time is null or schema_version is null or user_id is null or session_id is null or event_type is null'),
            ('invalid_event_id', 'try_cast(event_id as uuid) is null'),
            ('unknown_schema_version', 'schema_version not in (1, 2)'),
            ('unknown_event_type', 'event_type not in (' ~ sql_list(var('user_event_types')) ~ ')'),
            ('negative_price', 'price < 0 or ' ~ non_finite('price')),
            ('invalid_quantity', 'quantity < 1'),
            ('unknown_device', 'device is not null and device not in (' ~ sql_list(var('devices')) ~ ')'),
            ('incomplete_purchase', "event_type = 'purchase' and (product_id is null or price is null or quantity is null)"),
        ]) }} as invalid_reason
    from lake
)

select
    event_id,
    event_time as event_at,
    date_key,
    schema_version,
    user_id,
    session_id,
    event_type,
    product_id,
    campaign_id,
    price,
    quantity,
    device,
    kafka_topic,
    kafka_partition,
    kafka_offset,
    source_file,
    {{ duplicate_or('invalid_reason') }} as dq_reason,
    '{{ invocation_id }}' as loaded_by
from checked
