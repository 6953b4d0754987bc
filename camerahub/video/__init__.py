"""Video boundary: stream-copy segmenter, segment probe, clip remux and snapshots (PyAV)."""
