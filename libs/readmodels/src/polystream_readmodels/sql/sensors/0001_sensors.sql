-- Sensors (the relational entity) and their readings (the time series).

CREATE TABLE sensors (
    sensor_id   text PRIMARY KEY,
    sensor_type text NOT NULL,
    location    text NOT NULL,
    unit        text NOT NULL,
    first_seen  timestamptz NOT NULL,
    last_seen   timestamptz NOT NULL
);
CREATE INDEX sensors_type_location ON sensors (sensor_type, location);

-- Range-partitioned by day on event_time. The dedupe key must contain the partition key, so it is
-- (event_id, event_time): a redelivered reading has both the same.
CREATE TABLE sensor_readings (
    event_id    uuid NOT NULL,
    event_time  timestamptz NOT NULL,
    sensor_id   text NOT NULL,
    value       double precision NOT NULL,
    ingested_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (event_id, event_time)
) PARTITION BY RANGE (event_time);

-- Readings outside every daily partition (the writer creates those ahead of each batch) land here.
CREATE TABLE sensor_readings_default PARTITION OF sensor_readings DEFAULT;

-- Per-sensor time-range scans; BRIN keeps time-only scans cheap on append-mostly data.
CREATE INDEX sensor_readings_sensor_time ON sensor_readings (sensor_id, event_time);
CREATE INDEX sensor_readings_time_brin ON sensor_readings USING brin (event_time);
