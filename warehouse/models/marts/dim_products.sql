{#- One row per product: its latest catalog record (by event time, then Kafka position), and
    an inferred member (is_inferred, no name yet) for a product that events or chats name before
    its catalog record arrived, so every fact's product_id has its row here. -#}
with latest as (
    select
        product_id,
        arg_max(name, (event_at, kafka_partition, kafka_offset)) as name,
        arg_max(description, (event_at, kafka_partition, kafka_offset)) as description,
        arg_max(category, (event_at, kafka_partition, kafka_offset)) as category,
        arg_max(price, (event_at, kafka_partition, kafka_offset)) as price,
        arg_max(tags, (event_at, kafka_partition, kafka_offset)) as tags,
        max(event_at) as updated_at,
        count(*) as catalog_records
    from {{ ref('stg_products') }}
    group by product_id
),

referenced as (
    select distinct product_id from {{ ref('stg_user_events') }} where product_id is not null
    union
    select distinct product_id from {{ ref('stg_chat_messages') }} where product_id is not null
)

select
    product_id,
    name,
    description,
    category,
    price,
    tags,
    updated_at,
    catalog_records,
    false as is_inferred
from latest

union all

select
    product_id,
    null as name,
    null as description,
    null as category,
    null as price,
    null as tags,
    null as updated_at,
    0 as catalog_records,
    true as is_inferred
from referenced
where product_id not in (select product_id from latest)
