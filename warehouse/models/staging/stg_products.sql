{#- The clean catalog records (every version of every product): typed, one row per event_id,
    invalid rows left out. -#}
select
    event_id,
    event_at,
    date_key,
    schema_version,
    product_id,
    name,
    description,
    category,
    price,
    tags,
    kafka_topic,
    kafka_partition,
    kafka_offset,
    source_file,
    loaded_by
from {{ ref('base_products') }}
where dq_reason is null
