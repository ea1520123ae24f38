"""recsys-api: hybrid recommendations, semantic search and analytics over HTTP, read through a
Redis look-aside cache (README.md, "The recommendation API").

- :mod:`~recsys_api.recommend`: the recommender (vector -> graph -> rank) over its ports;
  :mod:`~recsys_api.adapters` the real ones, :mod:`~recsys_api.testing` in-memory ones;
- :mod:`~recsys_api.app`: the app factory and its lifespan; :mod:`~recsys_api.routes` the routes;
- :mod:`~recsys_api.cache`: the look-aside cache; :mod:`~recsys_api.invalidations` its consumer.
"""
