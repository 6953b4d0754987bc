"""Build a SegmentStore from a plain description: a local directory or an S3 bucket."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .base import SegmentStore
from .errors import StorageError
from .filestore import FileStore
from .s3store import S3Settings, S3Store


@dataclass(frozen=True)
class StoreSpec:
    """Which store to open; storage knows no config, so the caller translates it to this."""

    backend: Literal["file", "s3"]
    file_root: Path | None = None  # backend "file": the directory, already resolved
    s3: S3Settings | None = None  # backend "s3": bucket and endpoint (credentials: env/profile)


def make_store(spec: StoreSpec) -> SegmentStore:
    """The store the spec names; StorageError if the spec is incomplete."""
    if spec.backend == "s3":
        if spec.s3 is None:
            raise StorageError("an S3 store needs its bucket settings")
        return S3Store(spec.s3)
    if spec.backend == "file":
        if spec.file_root is None:
            raise StorageError("a file store needs its directory")
        return FileStore(spec.file_root)
    raise StorageError(f"unknown storage backend {spec.backend!r}")
