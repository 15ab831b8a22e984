-- Non-standard GMV share per ISO week and scope: GMV of items whose product is non-standard
-- (as it was when paid) / GMV.
{{ gmv_share_by_week('is_nonstandard', 'nonstandard_share') }}
