-- Platform repurchase rate per ISO week and scope: customers with paid orders (in the scope)
-- on 2+ distinct days in the 90 days ending on the week's Sunday / customers with 1+;
-- null until 90 days of data exist. Scopes as they were at the end of that Sunday.
{{ repurchase_by_week(['user_id']) }}
