"""Sentence embeddings behind one Encoder (see encoder.py)."""
