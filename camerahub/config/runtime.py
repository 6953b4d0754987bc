"""Where a running camerahub keeps its data: resolved from config file and environment."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .model import Config

DEFAULT_CONFIG = "camerahub.yaml"


@dataclass(frozen=True)
class Runtime:
    """Resolved locations: config file, data directory and database URL."""

    config_path: Path
    data_dir: Path
    database_url: str

    def camera_ca_file(self, cfg: Config) -> str | None:
        """defaults.tls_ca_file (relative to the config file's folder), or None."""
        return camera_ca_file(cfg, self.config_path)


def camera_ca_file(cfg: Config, config_path: Path) -> str | None:
    """defaults.tls_ca_file of a config read from config_path (relative to its folder)."""
    path = cfg.defaults.tls_ca_file
    if path is None:
        return None
    return str(path if path.is_absolute() else config_path.parent / path)


def config_path(explicit: str | None) -> Path:
    """--config, else CAMERAHUB_CONFIG, else camerahub.yaml."""
    return Path(explicit or os.environ.get("CAMERAHUB_CONFIG") or DEFAULT_CONFIG)


def resolve_runtime(cfg: Config | None, path: Path) -> Runtime:
    """Environment overrides the file; relative paths are relative to the file's folder."""
    base = path.parent if path else Path.cwd()
    env_dir = os.environ.get("CAMERAHUB_DATA_DIR")
    if env_dir:
        data_dir = Path(env_dir)
    elif cfg is not None and cfg.data_dir is not None:
        data_dir = cfg.data_dir if cfg.data_dir.is_absolute() else base / cfg.data_dir
    else:
        data_dir = Path("var")
    url = os.environ.get("CAMERAHUB_DATABASE_URL") or (cfg.database_url if cfg else None)
    if not url:
        url = f"sqlite:///{(data_dir / 'camerahub.db').resolve()}"
    return Runtime(config_path=path, data_dir=data_dir, database_url=url)
