"""Sentence embeddings behind one Encoder: ``encoder`` (the port and ``load_encoder``, which picks
the backend), ``onnx_encoder`` (the CPU default) and ``torch_encoder`` (GPU), ``export`` (the ONNX
folder ``make install`` caches), ``settings``, ``testing`` (``HashingEncoder``, the fake)."""
