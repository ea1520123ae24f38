{#- The clean chat messages: typed, one row per event_id, invalid rows left out. -#}
select
    event_id,
    event_at,
    date_key,
    schema_version,
    user_id,
    conversation_id,
    text,
    product_id,
    kafka_topic,
    kafka_partition,
    kafka_offset,
    source_file,
    loaded_by
from {{ ref('base_chat_messages') }}
where dq_reason is null
