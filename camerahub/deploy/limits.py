"""Defaults of a device rollout, importable without the ONVIF and database layers."""

DEFAULT_WORKERS = 16
DEFAULT_TIMEOUT_S = 20.0  # per camera: read, change and read back
