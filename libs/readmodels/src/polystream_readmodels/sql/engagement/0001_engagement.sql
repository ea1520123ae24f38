-- Engagement of products and campaigns, written by the aggregator, read by recsys-api to rank.
-- Rows are the final results of closed event-time windows, upserted by their key: a replay after
-- a crash writes the same values again.

-- Interactions per entity, tumbling event-time window and event type.
CREATE TABLE engagement_windows (
    entity_type  text NOT NULL CHECK (entity_type IN ('product', 'campaign')),
    entity_id    text NOT NULL,
    window_start timestamptz NOT NULL,
    window_end   timestamptz NOT NULL,
    event_type   text NOT NULL,
    count        bigint NOT NULL CHECK (count > 0),
    PRIMARY KEY (entity_type, entity_id, window_start, event_type)
);
CREATE INDEX engagement_windows_start ON engagement_windows (window_start);

-- One row per entity: the exponentially decayed, type-weighted score as of the end of the last
-- window folded into it (decay it to now with half_life_s before comparing rows of different
-- as_of: see polystream_readmodels.engagement), and the interaction totals since the beginning.
CREATE TABLE engagement_scores (
    entity_type     text NOT NULL CHECK (entity_type IN ('product', 'campaign')),
    entity_id       text NOT NULL,
    score           double precision NOT NULL,
    as_of           timestamptz NOT NULL,
    half_life_s     double precision NOT NULL,
    views           bigint NOT NULL DEFAULT 0,
    clicks          bigint NOT NULL DEFAULT 0,
    add_to_carts    bigint NOT NULL DEFAULT 0,
    purchases       bigint NOT NULL DEFAULT 0,
    campaign_views  bigint NOT NULL DEFAULT 0,
    campaign_clicks bigint NOT NULL DEFAULT 0,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (entity_type, entity_id)
);
CREATE INDEX engagement_scores_rank ON engagement_scores (entity_type, score DESC);
