"""recsys-api: recommendations, semantic search and analytics over HTTP.

Built so far: the search routes, health probes and the Redis look-aside cache."""
