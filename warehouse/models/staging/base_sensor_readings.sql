{#- Every sensor reading read from the lake, typed, with the reason it is dropped (null: kept);
    incremental like base_user_events. -#}
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='date_key') }}
{%- set since = incremental_since() %}

with lake as (
    {{ lake_scan(source('lake', 'sensor_readings'), [
        ('event_id', 'varchar'), ('event_time', 'timestamptz'), ('schema_version', 'integer'),
        ('sensor_id', 'varchar'), ('sensor_type', 'varchar'), ('location', 'varchar'),
        ('unit', 'varchar'), ('value', 'double'),
        ('kafka_topic', 'varchar'), ('kafka_partition', 'integer'), ('kafka_offset', 'bigint'),
    ], since) }}
),

checked as (
    select
        *,
        {{ first_failed([
            ('null_required_field', 'event_id is null or event_time is null or schema_version is null or sensor_id is null or sensor_type is null or value is null'),
            ('invalid_event_id', 'try_cast(event_id as uuid) is null'),
            ('unknown_schema_version', 'schema_version <> 1'),
            ('unknown_sensor_type', 'sensor_type not in (' ~ sql_list(var('sensor_types')) ~ ')'),
            ('non_finite_value', non_finite('value')),
        ]) }} as invalid_reason
    from lake
)

select
    event_id,
    event_time as event_at,
    date_key,
    schema_version,
    sensor_id,
    sensor_type,
    location,
    unit,
    value,
    kafka_topic,
    kafka_partition,
    kafka_offset,
    source_file,
    {{ duplicate_or('invalid_reason') }} as dq_reason,
    '{{ invocation_id }}' as loaded_by
from checked
