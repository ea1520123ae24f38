-- Per-sensor rollups of closed one-minute (by default) event-time windows, written by the
-- aggregator and upserted by (sensor_id, window_start): a replay after a crash writes the same
-- values again.

CREATE TABLE sensor_rollups (
    sensor_id    text NOT NULL,
    window_start timestamptz NOT NULL,
    window_end   timestamptz NOT NULL,
    count        bigint NOT NULL CHECK (count > 0),
    min          double precision NOT NULL,
    max          double precision NOT NULL,
    mean         double precision NOT NULL,
    PRIMARY KEY (sensor_id, window_start)
);
CREATE INDEX sensor_rollups_start ON sensor_rollups (window_start);
