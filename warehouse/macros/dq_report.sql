{#- on-run-end: the data-quality report of a build or run as JSON, beside the warehouse file
    (<dir of POLYSTREAM_WAREHOUSE_PATH>/dq_report.json, or POLYSTREAM_DQ_REPORT_PATH): one
    object with the run's invocation_id and, per stream, the rows read from the lake, kept and
    dropped, and the drops by reason (marts.data_quality_report, over every partition loaded). -#}
{% macro dq_report_path() -%}
    {%- set explicit = env_var('POLYSTREAM_DQ_REPORT_PATH', '') -%}
    {%- if explicit -%}{{ return(explicit) }}{%- endif -%}
    {%- set warehouse = env_var('POLYSTREAM_WAREHOUSE_PATH', '.stack/warehouse/polystream.duckdb') -%}
    {{ return(modules.re.sub('[^/]+$', 'dq_report.json', warehouse, count=1)) }}
{%- endmacro %}


{% macro write_dq_report() -%}
    {%- if execute and flags.WHICH in ('run', 'build') -%}
        {%- set report = adapter.get_relation(
            database=target.database, schema='marts', identifier='data_quality_report'
        ) -%}
        {%- if report is not none -%}
            copy (
                with streams as (
                    select
                        stream,
                        any_value(rows_read) as rows_read,
                        any_value(rows_kept) as rows_kept,
                        sum(rows_dropped) as rows_dropped,
                        coalesce(
                            map(
                                list(reason order by reason) filter (where reason is not null),
                                list(rows_dropped order by reason) filter (where reason is not null)
                            ),
                            map(cast([] as varchar[]), cast([] as bigint[]))
                        ) as dropped_by_reason
                    from {{ report }}
                    group by stream
                )
                select
                    '{{ invocation_id }}' as invocation_id,
                    strftime(now() at time zone 'UTC', '%Y-%m-%dT%H:%M:%SZ') as generated_at,
                    map(
                        list(stream order by stream),
                        list(
                            {'rows_read': rows_read, 'rows_kept': rows_kept,
                             'rows_dropped': rows_dropped, 'dropped_by_reason': dropped_by_reason}
                            order by stream
                        )
                    ) as streams
                from streams
            ) to '{{ dq_report_path() }}' (format json)
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}
