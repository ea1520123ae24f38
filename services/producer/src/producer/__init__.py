"""producer: synthetic generators, file ingestion and load tests for the four streams."""
