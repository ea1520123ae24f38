{#- Every catalog record read from the lake, typed, with the reason it is dropped (null: kept);
    incremental like base_user_events. -#}
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='date_key') }}
{%- set since = incremental_since() %}

with lake as (
    {{ lake_scan(source('lake', 'products'), [
        ('event_id', 'varchar'), ('event_time', 'timestamptz'), ('schema_version', 'integer'),
        ('product_id', 'varchar'), ('name', 'varchar'), ('description', 'varchar'),
        ('category', 'varchar'), ('price', 'double'), ('tags', 'varchar[]'),
        ('kafka_topic', 'varchar'), ('kafka_partition', 'integer'), ('kafka_offset', 'bigint'),
    ], since) }}
),

checked as (
    select
        *,
        {{ first_failed([
            ('null_required_field', 'event_id is null or event_time is null or schema_version is null or product_id is null or name is null or category is null or price is null'),
            ('invalid_event_id', 'try_cast(event_id as uuid) is null'),
            ('unknown_schema_version', 'schema_version <> 1'),
            ('negative_price', 'price < 0 or ' ~ non_finite('price')),
        ]) }} as invalid_reason
    from lake
)

select
    event_id,
    event_time as event_at,
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
    {{ duplicate_or('invalid_reason') }} as dq_reason,
    '{{ invocation_id }}' as loaded_by
from checked
