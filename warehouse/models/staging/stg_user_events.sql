{#- The clean user events: typed, one row per event_id, invalid rows left out (their counts are
    in marts.data_quality_report). -#}
select
    event_id,
    event_at,
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
    loaded_by
from {{ ref('base_user_events') }}
where dq_reason is null
