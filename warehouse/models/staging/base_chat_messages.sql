{#- Every chat message read from the lake, typed, with the reason it is dropped (null: kept);
    incremental like base_user_events. -#}
{{ config(materialized='incremental', incremental_strategy='delete+insert', unique_key='date_key') }}
{%- set since = incremental_since() %}

with lake as (
    {{ lake_scan(source('lake', 'chat_messages'), [
        ('event_id', 'varchar'), ('event_time', 'timestamptz'), ('schema_version', 'integer'),
        ('user_id', 'varchar'), ('conversation_id', 'varchar'), ('text', 'varchar'),
        ('product_id', 'varchar'),
        ('kafka_topic', 'varchar'), ('kafka_partition', 'integer'), ('kafka_offset', 'bigint'),
    ], since) }}
),

checked as (
    select
        *,
        {{ first_failed([
            ('null_required_field', 'event_id is null or event_time is null or schema_version is null or user_id is null or conversation_id is null or text is null'),
            ('invalid_event_id', 'try_cast(event_id as uuid) is null'),
            ('unknown_schema_version', 'schema_version <> 1'),
            ('empty_text', "trim(text) = ''"),
        ]) }} as invalid_reason
    from lake
)

select
    event_id,
    event_time as event_at,
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
    {{ duplicate_or('invalid_reason') }} as dq_reason,
    '{{ invocation_id }}' as loaded_by
from checked
