{#- The clean sensor readings: typed, one row per event_id, invalid rows left out. -#}
select
    event_id,
    event_at,
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
    loaded_by
from {{ ref('base_sensor_readings') }}
where dq_reason is null
