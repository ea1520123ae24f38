"""aggregator: engagement scores and sensor rollups, stateful and exact after a crash."""
