{#- Reading the Parquet lake (layout: <root>/stream=<stream>/date=<YYYY-MM-DD>/<file>.parquet)
    with DuckDB's built-in Parquet reader. -#}

{% macro lake_root() -%}
    {%- set root = env_var('POLYSTREAM_LAKE_PATH', '.stack/lake') -%}
    {%- if root.startswith('file://') -%}{%- set root = root[7:] -%}{%- endif -%}
    {{ return(root.rstrip('/')) }}
{%- endmacro %}


{% macro lake_glob(stream) -%}
    {{ return(lake_root() ~ '/stream=' ~ stream ~ '/*/*.parquet') }}
{%- endmacro %}


{#- The rows of one stream's files, as ``columns`` (a list of (name, type)) plus ``date_key``
    (the hive ``date`` partition) and ``source_file``; only partitions on or after ``since`` when
    it is given. The filter is a literal on the hive column, so DuckDB prunes the other
    partitions' files before reading them. A column no file has yet (``device`` before the first
    v2 event) reads as null, and a stream with no file yet as no rows, so a first build on an
    empty lake works. -#}
{% macro lake_scan(lake_source, columns, since=none) -%}
    {%- set glob = lake_glob(lake_source.identifier) -%}
    {%- set present = [] -%}
    {%- if execute -%}
        {%- set files = run_query("select count(*) from glob('" ~ glob ~ "')").columns[0].values()[0] -%}
        {%- if files > 0 -%}
            {%- set described = run_query(
                "describe select * from read_parquet('" ~ glob ~ "', union_by_name = true)"
            ) -%}
            {%- for name in described.columns[0].values() -%}{%- do present.append(name) -%}{%- endfor -%}
        {%- endif -%}
    {%- endif -%}
    {%- if present %}
    select
        {%- for name, type in columns %}
        {% if name in present %}cast("{{ name }}" as {{ type }}){% else %}cast(null as {{ type }}){% endif %} as {{ name }},
        {%- endfor %}
        "date" as date_key,
        filename as source_file
    from read_parquet(
        '{{ glob }}',
        hive_partitioning = true,
        hive_types = {'date': 'DATE', 'stream': 'VARCHAR'},
        union_by_name = true,
        filename = true
    )
    {%- if since is not none %}
    where "date" >= date '{{ since }}'
    {%- endif %}
    {%- else %}
    select
        {%- for name, type in columns %}
        cast(null as {{ type }}) as {{ name }},
        {%- endfor %}
        cast(null as date) as date_key,
        cast(null as varchar) as source_file
    where false
    {%- endif %}
{%- endmacro %}


{#- The first partition date an incremental run re-reads, as 'YYYY-MM-DD', or none for a full
    build: the newest date_key already loaded minus var('lookback_days'), or
    var('reprocess_since') when set. Rendered as a literal so the lake scan can prune. -#}
{% macro incremental_since(column='date_key') -%}
    {%- if execute and is_incremental() -%}
        {%- if var('reprocess_since') -%}
            {{ return(var('reprocess_since') | string) }}
        {%- endif -%}
        {%- set newest = run_query(
            'select cast(max(' ~ column ~ ') - ' ~ (var('lookback_days') | int) ~ ' as varchar) from ' ~ this
        ).columns[0].values()[0] -%}
        {%- if newest is not none -%}
            {{ return(newest) }}
        {%- endif -%}
    {%- endif -%}
    {{ return(none) }}
{%- endmacro %}


{#- 'a', 'b', 'c' from a list var, for an IN list. -#}
{% macro sql_list(values) -%}
    {%- for value in values -%}'{{ value }}'{{ ', ' if not loop.last }}{%- endfor -%}
{%- endmacro %}


{#- The reason a row is dropped when one of its checks fails (the first that does), else null.
    ``checks``: a list of (reason, condition). -#}
{% macro first_failed(checks) -%}
    case
        {%- for reason, condition in checks %}
        when {{ condition }} then '{{ reason }}'
        {%- endfor %}
    end
{%- endmacro %}


{#- Marks every copy of an event_id after the first among the rows that passed the checks;
    the copy kept is the earliest in Kafka (then by file), so reruns keep the same one. -#}
{% macro duplicate_or(invalid_reason) -%}
    coalesce(
        {{ invalid_reason }},
        case
            when row_number() over (
                partition by event_id, {{ invalid_reason }} is null
                order by kafka_partition, kafka_offset, source_file
            ) > 1 then 'duplicate_event_id'
        end
    )
{%- endmacro %}


{#- NaN or an infinity. Spelled as text on purpose: DuckDB 2.0.1 folds isnan()/isinf() to false
    through the Parquet min/max statistics, which leave NaN out (seen on our seed lake). -#}
{% macro non_finite(column) -%}
    cast({{ column }} as varchar) in ('nan', 'inf', '-inf')
{%- endmacro %}
