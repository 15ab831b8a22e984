-- Emerging channels' penetration per ISO week and scope: GMV via live_stream, kol,
-- community_group / GMV (not by channel, where it would be 0 or 1 by construction).
{{ gmv_share_by_week('is_emerging_channel', 'channel_penetration', exclude_scopes=['channel']) }}
