"""Build the configured SegmentStore: FileStore under the data directory, or S3Store."""

from __future__ import annotations

from camerahub.config import Config
from camerahub.config.runtime import Runtime
from camerahub.storage import FileStore, S3Settings, S3Store, SegmentStore


def make_store(cfg: Config, runtime: Runtime) -> SegmentStore:
    """The store the config names; S3 credentials come from the environment or profile."""
    if cfg.storage.backend == "s3":
        s3 = cfg.storage.s3
        return S3Store(S3Settings(bucket=s3.bucket, endpoint_url=s3.endpoint_url,
                                  region=s3.region, path_style=s3.path_style,
                                  profile=s3.profile, sse=s3.sse, kms_key_id=s3.kms_key_id))
    path = cfg.storage.file.path
    return FileStore(path if path.is_absolute() else runtime.data_dir / path)
