"""Configuration: strict models of the deployment YAML and its loader."""

from .cameras import Camera, Credential, Terminal
from .loader import ConfigError, ConfigIssue, load_config, parse_config
from .model import Config
from .org import Department, Division, Org, Room
from .runtime import Runtime, resolve_runtime
from .secrets import SecretMissing, SecretRef
from .sites import Site
from .users import User

__all__ = [
    "Camera", "Config", "ConfigError", "ConfigIssue", "Credential", "Department", "Division",
    "Org", "Room", "Runtime", "SecretMissing", "SecretRef", "Site", "Terminal", "User",
    "load_config", "parse_config", "resolve_runtime",
]
