-- SMB merchants' repurchase rate per ISO week: customer-merchant pairs (the merchant SMB at
-- the end of the week) with paid orders on 2+ distinct days in the 90 days ending on the
-- week's Sunday / pairs with 1+; null until 90 days of data exist. Scope: all.
{{ repurchase_by_week(
    ['user_id', 'merchant_id'],
    where="scope_type = 'merchant_size' and scope_value = 'SMB'",
    scope_type='all',
) }}
