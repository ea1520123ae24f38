{#- Rows where ``expression`` does not hold (null counts as not holding unless the expression
    says otherwise). -#}
{% test expression_is_true(model, expression, column_name=none) %}
select * from {{ model }} where not coalesce(({{ expression }}), false)
{% endtest %}
