{#
  `relationships`, but a child row dated within `grace_days` of the model's latest date may
  still wait for its parent: an order whose events land late (silver records it in
  audit.late_references) is pending for the quality gate's grace
  (conf: quality.late_reference_grace_days), not broken. Older orphans fail as before.
#}
{% test relationships_after_grace(model, column_name, to, field, date_column, grace_days=2) %}

with child as (
    select {{ column_name }} as child_value, {{ date_column }} as child_date
    from {{ model }}
    where {{ column_name }} is not null
),

latest as (
    select max(child_date) as last_date from child
)

select child.child_value
from child
cross join latest
left join {{ to }} as parent
    on child.child_value = parent.{{ field }}
where parent.{{ field }} is null
    and child.child_date <= date_sub(latest.last_date, {{ grace_days }})

{% endtest %}
