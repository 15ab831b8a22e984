-- Non-standard GMV share per ISO week: GMV of items whose product is non-standard / GMV.
{{ gmv_share_by_week('is_nonstandard', 'nonstandard_share') }}
