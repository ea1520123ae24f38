"""graph-writer: user.events and products.catalog -> the interaction graph in Neo4j."""
