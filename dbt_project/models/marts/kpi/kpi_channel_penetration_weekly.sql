-- Emerging channels' penetration per ISO week: GMV via live_stream, kol, community_group / GMV.
{{ gmv_share_by_week('is_emerging_channel', 'channel_penetration') }}
