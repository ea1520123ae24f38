"""embedder: arrives with a later issue; the package holds its place in the workspace."""
