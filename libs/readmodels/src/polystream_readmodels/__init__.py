"""polystream_readmodels: the read side shared by the writer services and recsys-api.

- :mod:`~polystream_readmodels.sensors`: the sensor schema (its migrations, the contract between
  sensor-consumer, which writes it, and every reader) and the sensor analytics in SQL;
- :mod:`~polystream_readmodels.postgres`: a PostgreSQL connection on one schema;
- :mod:`~polystream_readmodels.collections`: the MongoDB collections and their indexes;
- :mod:`~polystream_readmodels.behaviour`: the behaviour aggregations over ``user_events``.

A writer service depends on this library for the shape of what it writes; a reader depends on it
for the queries. No service imports another.
"""
