"""The pure pricing engine (``engine``)."""
