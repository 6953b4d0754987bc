"""The SegmentStore interface that the recorder, playback and incidents code talk to."""

from __future__ import annotations

import hashlib
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from camerahub.storage.errors import ChecksumMismatch, InvalidKey, ObjectConflict, StorageError

_HASH_CHUNK = 1 << 20
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
# Keys are relative, slash-separated, and made of characters safe on disk and in URLs.
_KEY_RE = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._~-]*(/[A-Za-z0-9_-][A-Za-z0-9._~-]*)*$")


@dataclass(frozen=True)
class ObjectInfo:
    """What a store knows about one stored object."""

    key: str
    size: int
    sha256: str | None
    metadata: dict[str, str] = field(default_factory=dict)
    legal_hold: bool = False
    server_sha256: str | None = None  # the store's own full-object checksum, when it has one
    retention_mode: str | None = None  # Object Lock retention: "GOVERNANCE" | "COMPLIANCE"
    retain_until: datetime | None = None


class SegmentStore(ABC):
    """Write-once evidence storage: put never overwrites different bytes."""

    legal_hold_supported: bool = False

    @abstractmethod
    def put(self, key: str, path: Path, sha256: str, metadata: dict[str, str] | None = None,
            *, verified: bool = False) -> bool:
        """Store a file; True if written, False if identical bytes were already there.

        A file that does not match `sha256` is refused (ChecksumMismatch). `verified`: the
        caller vouches that the file holds the very bytes sha256 was computed over (the
        spool hashed them as it wrote them and the file is untouched since:
        SpoolItem.unchanged_since_sealed), so the store need not read them to check.
        """

    @abstractmethod
    def head(self, key: str) -> ObjectInfo | None:
        """Describe an object, or None if it does not exist."""

    @abstractmethod
    def open(self, key: str) -> BinaryIO:
        """Return a readable binary stream of the object (raises ObjectMissing)."""

    @abstractmethod
    def get_range(self, key: str, offset: int, length: int) -> bytes:
        """Return up to `length` bytes from `offset` (raises ObjectMissing)."""

    @abstractmethod
    def iter_keys(self, prefix: str = "") -> Iterator[str]:
        """Yield keys starting with prefix, in lexical (hence time) order."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Delete an object; ObjectLocked if held, no-op if missing."""

    @abstractmethod
    def set_legal_hold(self, key: str, on: bool) -> None:
        """Place or lift a legal hold (raises ObjectMissing, StorageError if unsupported)."""

    @property
    def retention_supported(self) -> bool:
        """Whether objects can be given a retention period (S3 Object Lock)."""
        return False

    def set_retention(self, key: str, mode: str, until: datetime) -> bool:
        """Keep the object undeletable until `until` in mode governance or compliance.

        Never shortens a retention already set; True if this call set or extended it.
        Raises ObjectMissing, or StorageError where the store has no retention.
        """
        raise StorageError(f"{type(self).__name__} has no object retention")

    def _matches_existing(self, key: str, sha256: str, size: int) -> bool:
        """True if the key already holds these bytes; ObjectConflict if other bytes.

        Evidence is never overwritten: a second put of the same bytes is a no-op, and a
        put of different bytes under an existing key is refused.
        """
        existing = self.head(key)
        if existing is None:
            return False
        if existing.sha256 == sha256 and existing.size == size:
            return True
        raise ObjectConflict(f"{key} already holds sha256 {existing.sha256}, refusing {sha256}")

    def presign_get(self, key: str, expires_s: int = 300) -> str | None:
        """Return a time-limited URL for direct download, or None if the store has none."""
        return None


def check_key(key: str) -> str:
    """Return the key if it is a safe relative object key; raise InvalidKey otherwise."""
    if not isinstance(key, str) or len(key) > 1024 or not _KEY_RE.match(key):
        raise InvalidKey(f"object key {key!r} is not a safe relative key")
    if any(part in (".", "..") for part in key.split("/")):
        raise InvalidKey(f"object key {key!r} contains a relative path component")
    return key


def check_sha256(sha256: str) -> str:
    """Return a lowercase hex SHA-256 or raise ChecksumMismatch."""
    if not isinstance(sha256, str) or not _SHA256_RE.match(sha256):
        raise ChecksumMismatch(f"{sha256!r} is not a lowercase hex SHA-256")
    return sha256


def file_sha256(path: Path) -> tuple[str, int]:
    """Return (hex SHA-256, size) of a file."""
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as fh:
        while chunk := fh.read(_HASH_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def verify_local(path: Path, sha256: str) -> int:
    """Check a local file against its declared SHA-256; return its size."""
    actual, size = file_sha256(path)
    if actual != check_sha256(sha256):
        raise ChecksumMismatch(f"{path}: sha256 is {actual}, declared {sha256}")
    return size
