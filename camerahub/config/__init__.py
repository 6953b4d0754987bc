"""Configuration: strict models of the deployment YAML and its loader."""

from __future__ import annotations

from camerahub.lazy import lazy_exports

_EXPORTS = {
    "Camera": ".cameras", "Credential": ".cameras", "Terminal": ".cameras",
    "ConfigError": ".loader", "ConfigIssue": ".loader", "load_config": ".loader",
    "parse_config": ".loader", "Config": ".model", "Department": ".org", "Division": ".org",
    "Org": ".org", "Room": ".org", "Runtime": ".runtime", "resolve_runtime": ".runtime",
    "camera_ca_file": ".runtime",
    "SecretMissing": ".secrets", "SecretRef": ".secrets", "Site": ".sites", "User": ".users",
}
__all__ = sorted(_EXPORTS)
__getattr__ = lazy_exports(__name__, _EXPORTS)
