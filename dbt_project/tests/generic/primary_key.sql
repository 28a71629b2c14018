{#- The columns identify a row: none is null and no combination repeats. One test where not_null per
    column plus unique_combination would be three: on an hourly-partitioned mart every test is an
    asset check that Dagster records per partition (2,160 rows per test for a 90-day backfill). -#}
{% test primary_key(model, columns) %}
select {{ columns | join(", ") }}, count(*) as copies
from {{ model }}
group by {{ columns | join(", ") }}
having count(*) > 1 or {{ columns | join(" is null or ") }} is null
{% endtest %}
