"""The VectorStore port and its adapters."""
